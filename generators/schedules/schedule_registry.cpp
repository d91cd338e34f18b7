#include "schedule.h"

#include "../layers/errors.h"

#include <fmt/ranges.h>

#include <mutex>
#include <thread>

using namespace Halide;

namespace cnngen {

namespace {

const std::map<std::string, std::string> &autoscheduler_plugins() {
    // Schedule name -> (autoscheduler name inside Halide, plugin file).
    static const std::map<std::string, std::string> plugins = {
        {"mullapudi2016", "Mullapudi2016"}, {"adams2019", "Adams2019"}, {"li2018", "Li2018"}};
    return plugins;
}

std::string plugin_path(const std::string &autoscheduler) {
    std::string file = autoscheduler == "Mullapudi2016" ? CNNGEN_MULLAPUDI2016_PLUGIN
                       : autoscheduler == "Adams2019"   ? CNNGEN_ADAMS2019_PLUGIN
                                                        : CNNGEN_LI2018_PLUGIN;
    return file;
}

}  // namespace

const std::vector<std::string> &schedule_names() {
    static const std::vector<std::string> names = {"naive", "cpu", "gpu", "cuda", "mullapudi2016", "adams2019", "li2018"};
    return names;
}

void check_schedule_name(const std::string &context, const std::string &name) {
    for (const auto &known : schedule_names())
        if (known == name) return;
    fail("{}: schedule '{}' unknown, expected one of {}", context, name, fmt::join(schedule_names(), ", "));
}

bool is_gpu_schedule(const std::string &name) { return name == "gpu" || name == "cuda"; }

bool is_autoscheduler(const std::string &name) {
    return autoscheduler_plugins().count(name) > 0;
}

int vector_width_for(const Target &target, int extent) {
    int width = target.natural_vector_size<float>();
    while (width > 1 && width > extent) width /= 2;
    return width;
}

void schedule_layers(const std::string &name, const std::vector<Layer> &layers, const Target &target) {
    check_schedule_name("schedule", name);
    if (is_autoscheduler(name)) fail("schedule: '{}' is an autoscheduler; call autoschedule() on the pipeline", name);
    for (const Layer &layer : layers) {
        if (name == "naive") {
            Func(layer.output.func).compute_root();
        } else if (name == "cpu") {
            schedule_layer_cpu(layer, target);
        } else {
            if (!target.has_gpu_feature())
                fail("{}: schedule '{}' needs a GPU target such as host-cuda-cuda_capability_80 or host-opencl, got {}",
                     layer.name, name, target.to_string());
            schedule_layer_gpu(layer, target);
        }
    }
}

void autoschedule(Pipeline &pipeline, const std::string &name, const Target &target) {
    const std::string &autoscheduler = autoscheduler_plugins().at(name);
    static std::mutex loading;
    {
        std::lock_guard<std::mutex> lock(loading);
        static std::set<std::string> loaded;
        if (loaded.insert(autoscheduler).second) load_plugin(plugin_path(autoscheduler));
    }
    // Tell the autoschedulers how many cores this machine has (Adams2019 assumes 16).
    const int cores = std::max(1u, std::thread::hardware_concurrency());
    MachineParams machine(cores, 8 * 1024 * 1024, 40);
    pipeline.auto_schedule(autoscheduler, target, machine);
}

}  // namespace cnngen
