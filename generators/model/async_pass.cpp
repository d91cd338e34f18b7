// Halide 14 runs its lowering pass fork_async_producers on every pipeline. The pass's first step
// (TightenProducerConsumerNodes) walks, from every consume node, the whole rest of the pipeline
// down to each Block, so its time grows faster than the pipeline: 0.48 s on a ResNet-18 forward
// part, 342.7 s on its training step, whose build took 567 s (HL_DEBUG_CODEGEN=1 timed by pass),
// for nothing, since the pass only changes code for Funcs scheduled async(),
// which no cnngen schedule does; otherwise it only narrows the consume markers.
//
// cnngen defines the function itself; lower() in libHalide calls it through the PLT, so this
// definition, in the executable, is the one bound. Pipelines with an async() Func or with loops on
// a GPU (whose buffer-copy passes come after it) still go through Halide's own pass.
#include <Halide.h>

#include <dlfcn.h>
#include <stdexcept>

namespace Halide::Internal {

namespace {

using AsyncPass = Stmt (*)(Stmt, const std::map<std::string, Function> &);

// Halide's definition of the function below: the next one after this executable's, found by
// this definition's own (mangled) name.
AsyncPass halide_fork_async_producers() {
    static const AsyncPass pass = [] {
        Dl_info self{};
        const AsyncPass own = &fork_async_producers;
        // dladdr names the nearest exported symbol: it must be this very function.
        if (!dladdr(reinterpret_cast<void *>(own), &self) || !self.dli_sname ||
            self.dli_saddr != reinterpret_cast<void *>(own))
            return AsyncPass(nullptr);
        return reinterpret_cast<AsyncPass>(dlsym(RTLD_NEXT, self.dli_sname));
    }();
    return pass;
}

bool has_device_loops(const Definition &definition) {
    for (const Dim &dim : definition.schedule().dims())
        if (dim.device_api != DeviceAPI::None && dim.device_api != DeviceAPI::Host) return true;
    return false;
}

bool needs_async_pass(const Function &f) {
    if (f.schedule().async() || has_device_loops(f.definition())) return true;
    for (const Definition &update : f.updates())
        if (has_device_loops(update)) return true;
    return false;
}

}  // namespace

Stmt fork_async_producers(Stmt s, const std::map<std::string, Function> &env) {
    for (const auto &[name, f] : env) {
        if (!needs_async_pass(f)) continue;
        const AsyncPass pass = halide_fork_async_producers();
        if (!pass) throw std::runtime_error("Halide's fork_async_producers was not found (dlsym)");
        return pass(std::move(s), env);
    }
    return s;
}

}  // namespace Halide::Internal
