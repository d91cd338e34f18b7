// libFuzzer target: arbitrary text as a model spec must parse or raise a ConfigError.
#include <layers/errors.h>
#include <model/spec.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        cnngen::parse_model_spec(std::string(reinterpret_cast<const char *>(data), size), "fuzz.toml");
    } catch (const cnngen::ConfigError &) {
    } catch (const Halide::CompileError &) {
    }
    return 0;
}
