#include "device_info.h"

#include "call_context.h"

#include <HalideBuffer.h>
#include <dlfcn.h>

#include <sstream>

// The Halide runtime's context hooks. Weak: a CPU library's runtime has none, and a GPU
// library's has only its own API's.
extern "C" {
struct _cl_context;
struct _cl_command_queue;
int halide_acquire_cl_context(void *user_context, _cl_context **context, _cl_command_queue **queue, bool create)
    __attribute__((weak));
int halide_release_cl_context(void *user_context) __attribute__((weak));
int halide_cuda_acquire_context(void *user_context, void **context, bool create) __attribute__((weak));
int halide_cuda_release_context(void *user_context) __attribute__((weak));
const halide_device_interface_t *halide_opencl_device_interface() __attribute__((weak));
const halide_device_interface_t *halide_cuda_device_interface() __attribute__((weak));
}

namespace cnngen {

namespace {

// The driver library Halide's runtime loaded (or loads now), for the calls Halide does not wrap.
void *driver_library(std::initializer_list<const char *> names) {
    for (const char *name : names)
        if (void *library = dlopen(name, RTLD_LAZY | RTLD_NOLOAD)) return library;
    for (const char *name : names)
        if (void *library = dlopen(name, RTLD_LAZY)) return library;
    return nullptr;
}

template <typename Fn>
Fn symbol(void *library, const char *name) {
    return library ? reinterpret_cast<Fn>(dlsym(library, name)) : nullptr;
}

DeviceInfo failure(const char *what, CallContext &context) {
    const std::string error = context.error();
    return {error.empty() ? std::string(what) : std::string(what) + ": " + error, false};
}

// Halide loads the driver and opens a device on a library's first device allocation; a
// one-float buffer does that before any call.
bool open_device(const halide_device_interface_t *(*interface)(), CallContext &context) {
    if (!interface) return false;
    Halide::Runtime::Buffer<float> probe(1);
    context.clear_error();
    if (probe.device_malloc(interface(), context.user_context()) != 0) return false;
    probe.device_free(context.user_context());
    return true;
}

DeviceInfo opencl_device(CallContext &context) {
    if (!halide_acquire_cl_context) return {"no OpenCL runtime linked", false};
    if (!open_device(halide_opencl_device_interface, context)) return failure("no OpenCL device", context);
    _cl_context *cl_context = nullptr;
    _cl_command_queue *queue = nullptr;
    context.clear_error();
    // A failed acquire has released the runtime's lock itself: release only what was acquired.
    if (halide_acquire_cl_context(context.user_context(), &cl_context, &queue, true) != 0)
        return failure("no OpenCL device", context);
    if (!queue) {
        halide_release_cl_context(context.user_context());
        return failure("no OpenCL command queue", context);
    }
    using InfoFn = int (*)(void *, unsigned, size_t, void *, size_t *);
    void *library = driver_library({"libOpenCL.so.1", "libOpenCL.so"});
    auto queue_info = symbol<InfoFn>(library, "clGetCommandQueueInfo");
    auto device_info = symbol<InfoFn>(library, "clGetDeviceInfo");
    auto platform_info = symbol<InfoFn>(library, "clGetPlatformInfo");
    constexpr unsigned kQueueDevice = 0x1091, kDeviceName = 0x102B, kDevicePlatform = 0x1031, kPlatformName = 0x0902;
    void *device = nullptr, *platform = nullptr;
    char name[256] = "unknown device", platform_name[256] = "unknown platform";
    if (queue_info && queue_info(queue, kQueueDevice, sizeof device, &device, nullptr) == 0 && device_info) {
        device_info(device, kDeviceName, sizeof name, name, nullptr);
        if (device_info(device, kDevicePlatform, sizeof platform, &platform, nullptr) == 0 && platform_info)
            platform_info(platform, kPlatformName, sizeof platform_name, platform_name, nullptr);
    }
    halide_release_cl_context(context.user_context());
    return {std::string(name) + " (" + platform_name + ")", true};
}

DeviceInfo cuda_device(CallContext &context) {
    if (!halide_cuda_acquire_context) return {"no CUDA runtime linked", false};
    if (!open_device(halide_cuda_device_interface, context)) return failure("no CUDA device", context);
    void *cuda_context = nullptr;
    context.clear_error();
    if (halide_cuda_acquire_context(context.user_context(), &cuda_context, true) != 0)
        return failure("no CUDA device", context);
    if (!cuda_context) {
        halide_cuda_release_context(context.user_context());
        return failure("no CUDA context", context);
    }
    void *library = driver_library({"libcuda.so.1", "libcuda.so"});
    auto push = symbol<int (*)(void *)>(library, "cuCtxPushCurrent_v2");
    auto pop = symbol<int (*)(void **)>(library, "cuCtxPopCurrent_v2");
    auto current_device = symbol<int (*)(int *)>(library, "cuCtxGetDevice");
    auto device_name = symbol<int (*)(char *, int, int)>(library, "cuDeviceGetName");
    char name[256] = "unknown device";
    if (push && pop && current_device && device_name && push(cuda_context) == 0) {
        int device = 0;
        if (current_device(&device) == 0) device_name(name, int(sizeof name), device);
        void *popped = nullptr;
        pop(&popped);
    }
    halide_cuda_release_context(context.user_context());
    return {name, true};
}

}  // namespace

std::string device_api(const std::string &target) {
    std::istringstream features(target);
    std::string feature;
    while (std::getline(features, feature, '-'))
        for (const char *api : {"cuda", "opencl", "metal", "vulkan", "d3d12compute"})
            if (feature == api) return api;
    return "";
}

DeviceInfo device_info(const std::string &api, CallContext &context) {
    if (api == "opencl") return opencl_device(context);
    if (api == "cuda") return cuda_device(context);
    return {"a device of this API (cnngen cannot ask which)", true};
}

}  // namespace cnngen
