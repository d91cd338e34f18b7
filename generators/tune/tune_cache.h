#pragma once
// What `cnngen tune` learned about each candidate, on disk: one small TOML file per candidate,
// named by a hash of everything its result depends on (spec, schedule, target, batch sizes,
// runner, measuring settings, machine). An interrupted tune finds its finished candidates
// here and goes on; a re-tune with the same seed replays them without building anything.
#include <map>
#include <optional>
#include <string>

namespace cnngen {

struct CandidateResult {
    std::string status;   // ok, build failed, build timed out, wrong, run failed
    std::string message;  // why, for anything but ok
    double build_seconds = 0;
    std::map<std::string, double> microseconds;  // per measured case (b1, b256, train), median per call
    std::string schedule;  // the schedule file built (or the built-in's name): to rebuild a failure by hand
};

// FNV-1a, 64 bits, as 16 hex digits: stable across runs and machines, unlike std::hash.
std::string stable_hash(const std::string &text);

class TuneCache {
public:
    explicit TuneCache(std::string dir);
    const std::string &dir() const { return dir_; }
    std::optional<CandidateResult> find(const std::string &key) const;
    // Written to a temporary file and renamed: an interrupted tune never leaves half a record.
    void store(const std::string &key, const CandidateResult &result) const;

private:
    std::string dir_;
};

}  // namespace cnngen
