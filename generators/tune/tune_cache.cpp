#include "tune_cache.h"

#include "../layers/errors.h"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace cnngen {

std::string stable_hash(const std::string &text) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : text) {
        h ^= ch;
        h *= 1099511628211ull;
    }
    return fmt::format("{:016x}", h);
}

TuneCache::TuneCache(std::string dir) : dir_(std::move(dir)) {
    std::error_code error;
    fs::create_directories(fs::path(dir_) / "records", error);
    if (error) fail("cnngen tune: cannot create the cache directory {}: {}", dir_, error.message());
}

std::optional<CandidateResult> TuneCache::find(const std::string &key) const {
    const fs::path path = fs::path(dir_) / "records" / (key + ".toml");
    if (!fs::exists(path)) return std::nullopt;
    try {
        const toml::table t = toml::parse_file(path.string());
        CandidateResult r;
        r.status = t["status"].value_or(std::string());
        r.message = t["message"].value_or(std::string());
        r.build_seconds = t["build_seconds"].value_or(0.0);
        r.schedule = t["schedule"].value_or(std::string());
        if (const toml::table *times = t["microseconds"].as_table())
            for (const auto &[name, value] : *times) r.microseconds[std::string(name.str())] = value.value_or(0.0);
        if (r.status.empty()) return std::nullopt;
        return r;
    } catch (const toml::parse_error &) {
        return std::nullopt;  // unreadable: measured again and rewritten
    }
}

void TuneCache::store(const std::string &key, const CandidateResult &result) const {
    toml::table times;
    for (const auto &[name, us] : result.microseconds) times.insert(name, us);
    const toml::table t{{"status", result.status},
                        {"message", result.message},
                        {"build_seconds", result.build_seconds},
                        {"schedule", result.schedule},
                        {"microseconds", times}};
    const fs::path path = fs::path(dir_) / "records" / (key + ".toml");
    const fs::path temporary = path.string() + ".partial";
    {
        std::ofstream out(temporary);
        out << t << "\n";
        if (!out) fail("cnngen tune: cannot write {}", temporary.string());
    }
    fs::rename(temporary, path);
}

}  // namespace cnngen
