#pragma once
// `--schedule`: a built-in name (naive, cpu, gpu, an autoscheduler) or a schedule file
// next to the model spec (models/lenet5.schedule.toml), checked against the spec.
#include "../schedules/model_schedule.h"
#include "spec.h"

namespace cnngen {

// Throws ConfigError naming the file, the table and the field.
ModelSchedule load_model_schedule(const std::string &name_or_path, const ModelSpec &spec);
ModelSchedule parse_model_schedule(const std::string &text, const std::string &path, const ModelSpec &spec);

// Why the schedule's fusion cannot be built, or empty: every layer between a producer and the
// layer it computes at must be inlined or computed there too, and that layer must not be
// inlined. (A file breaking this used to reach Halide as "computed at an invalid location".)
std::string fusion_chain_problem(const ModelSchedule &schedule, const ModelSpec &spec);

// The schedule as a schedule file parse_model_schedule reads back equal: settings left at
// their defaults are omitted, layers in the spec's order. `comment` lines go on top, each
// prefixed with "# ".
std::string schedule_file_text(const ModelSchedule &schedule, const ModelSpec &spec, const std::string &description,
                               const std::vector<std::string> &comment = {});

}  // namespace cnngen
