#pragma once
// Typed reads of TOML tables (model specs, schedule files) with errors that say where.
#include "../layers/errors.h"

#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace cnngen {

// Reads typed fields of one TOML table, reporting problems with their location.
class Fields {
public:
    Fields(const toml::table &table, std::string where) : table_(table), where_(std::move(where)) {}

    bool has(const std::string &key) const { return table_.contains(key); }

    int integer(const std::string &key, std::optional<int> fallback = std::nullopt, int minimum = 1) const {
        auto node = table_.get(key);
        if (!node) return required(key, fallback);
        // Integers only: toml++ converts a float to int64 unchecked (undefined past its range;
        // the spec fuzzer found n = 5.7e51).
        auto value = node->is_integer() ? node->value<int64_t>() : std::nullopt;
        if (!value) fail("{}: field '{}' must be an integer, found {}", where_, key, describe(*node));
        if (*value < minimum || *value > 1'000'000)
            fail("{}: field '{}' is {}, expected {} to 1000000", where_, key, *value, minimum);
        return int(*value);
    }

    float number(const std::string &key, float fallback) const {
        auto node = table_.get(key);
        if (!node) return fallback;
        auto value = node->value<double>();
        if (!value) fail("{}: field '{}' must be a number, found {}", where_, key, describe(*node));
        return float(*value);
    }

    bool boolean(const std::string &key, bool fallback) const {
        auto node = table_.get(key);
        if (!node) return fallback;
        auto value = node->value<bool>();
        if (!value) fail("{}: field '{}' must be true or false, found {}", where_, key, describe(*node));
        return *value;
    }

    std::string string(const std::string &key, std::optional<std::string> fallback = std::nullopt) const {
        auto node = table_.get(key);
        if (!node) {
            if (!fallback) fail("{}: field '{}' missing", where_, key);
            return *fallback;
        }
        auto value = node->value<std::string>();
        if (!value) fail("{}: field '{}' must be a string, found {}", where_, key, describe(*node));
        return *value;
    }

    // An integer, or an array of `count` integers (e.g. kernel = 5 or kernel = [5, 3]).
    std::vector<int> integers(const std::string &key, std::vector<size_t> counts, std::optional<int> fallback,
                              int minimum) const {
        auto node = table_.get(key);
        if (!node) return std::vector<int>(counts.front(), required(key, fallback));
        if (auto array = node->as_array()) {
            if (std::find(counts.begin(), counts.end(), array->size()) == counts.end())
                fail("{}: field '{}' has {} values, expected {}", where_, key, array->size(), fmt::join(counts, " or "));
            std::vector<int> values;
            for (const auto &element : *array) {
                auto value = element.is_integer() ? element.value<int64_t>() : std::nullopt;
                if (!value || *value < minimum || *value > 1'000'000)
                    fail("{}: field '{}' holds {}, expected integers >= {}", where_, key, describe(element), minimum);
                values.push_back(int(*value));
            }
            return values;
        }
        return std::vector<int>(counts.front(), integer(key, fallback, minimum));
    }

    // A string, or an array of strings (inputs = "conv1" or inputs = ["conv1", "relu2"]); empty when absent.
    std::vector<std::string> strings(const std::string &key) const {
        auto node = table_.get(key);
        if (!node) return {};
        if (auto value = node->value<std::string>()) return {*value};
        const toml::array *array = node->as_array();
        if (!array || array->empty())
            fail("{}: field '{}' must be a string or a non-empty array of strings, found {}", where_, key, describe(*node));
        std::vector<std::string> values;
        for (const toml::node &element : *array) {
            auto value = element.value<std::string>();
            if (!value) fail("{}: field '{}' holds {}, expected strings", where_, key, describe(element));
            values.push_back(*value);
        }
        return values;
    }

    std::optional<std::string> maybe_string(const std::string &key) const {
        auto node = table_.get(key);
        return node ? node->value<std::string>() : std::nullopt;
    }

    void reject_unknown(const std::set<std::string> &known) const {
        for (const auto &[key, node] : table_)
            if (!known.count(std::string(key.str())))
                fail("{}: unknown field '{}', expected one of {}", where_, key.str(), fmt::join(known, ", "));
    }

    const std::string &where() const { return where_; }

private:
    int required(const std::string &key, std::optional<int> fallback) const {
        if (!fallback) fail("{}: field '{}' missing", where_, key);
        return *fallback;
    }
    static std::string describe(const toml::node &node) {
        std::ostringstream out;
        out << node.type() << " ";
        node.visit([&](auto &&v) { out << v; });
        return out.str();
    }

    const toml::table &table_;
    std::string where_;
};

}  // namespace cnngen
