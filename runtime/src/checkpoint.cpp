#include "cnngen/checkpoint.h"

#include "atomic_file.h"
#include "cnngen/error.h"
#include "cnngen/npy.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace cnngen {

namespace {

std::string state_text(const TrainingState &s) {
    return fmt::format("step={}\nseed={}\nlr_policy={}\nbatch={}\n", s.step, s.seed, s.lr_policy, s.batch);
}

TrainingState parse_state(const std::string &path) {
    std::ifstream in(path);
    if (!in) runtime_fail("{}: missing; not a training checkpoint", path);
    TrainingState s;
    bool has_step = false;
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        try {
            if (key == "step") s.step = std::stoll(value), has_step = true;
            if (key == "seed") s.seed = uint32_t(std::stoul(value));
            if (key == "lr_policy") s.lr_policy = value;
            if (key == "batch") s.batch = std::stoi(value);
        } catch (const std::exception &) {
            runtime_fail("{}: field '{}' has value '{}', expected a number", path, key, value);
        }
    }
    if (!has_step || s.step < 0) runtime_fail("{}: field 'step' missing or negative", path);
    return s;
}

}  // namespace

void save_checkpoint(const std::string &dir, const Model &model, const TrainingState &state) {
    const fs::path link = fs::absolute(dir).lexically_normal();
    const fs::path parent = link.parent_path();
    fs::create_directories(parent);
    const std::string version = fmt::format("{}.step-{:09d}", link.filename().string(), state.step);
    const fs::path staging = parent / (version + ".partial");
    fs::remove_all(staging);
    fs::create_directories(staging / "optimizer");

    model.save_weights(staging.string());
    const auto &params = model.description().parameters;
    const std::vector<Tensor> velocities = model.velocities();
    for (size_t k = 0; k < params.size(); ++k) {
        const Tensor &v = velocities[k];
        write_npy((staging / "optimizer" / (params[k].name + ".npy")).string(), v.shape, v.data.data());
    }
    write_file_atomically((staging / "state.txt").string(), state_text(state));

    // Complete directory first, then one atomic rename of a symbolic link over DIR.
    const fs::path complete = parent / version;
    fs::remove_all(complete);
    fs::rename(staging, complete);
    if (!fs::is_symlink(link) && fs::exists(link)) fs::rename(link, parent / (link.filename().string() + ".replaced"));
    const fs::path temporary_link = parent / (link.filename().string() + ".link-" + std::to_string(getpid()));
    fs::remove(temporary_link);
    fs::create_directory_symlink(version, temporary_link);
    if (std::rename(temporary_link.c_str(), link.c_str()) != 0)
        runtime_fail("{}: cannot switch checkpoint link: {}", link.string(), std::strerror(errno));
    // Drop every other version, including leftovers of runs killed mid-write.
    const std::string prefix = link.filename().string() + ".step-";
    for (const auto &entry : fs::directory_iterator(parent)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0 && name != version) fs::remove_all(entry.path());
    }
    fs::remove_all(parent / (link.filename().string() + ".replaced"));
}

TrainingState load_checkpoint(const std::string &dir, Model &model) {
    TrainingState state = parse_state(dir + "/state.txt");
    model.load_weights(dir);
    const auto &params = model.description().parameters;
    std::vector<Tensor> velocities;
    for (size_t k = 0; k < params.size(); ++k) {
        const std::string path = dir + "/optimizer/" + params[k].name + ".npy";
        NpyArray v = read_npy(path);
        if (v.shape != params[k].shape) runtime_fail("{}: velocity of '{}' has the wrong shape", path, params[k].name);
        velocities.push_back({v.shape, std::move(v.data)});
    }
    model.set_velocities(velocities);
    return state;
}

}  // namespace cnngen
