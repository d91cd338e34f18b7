// libFuzzer target: arbitrary bytes as an ONNX model must import or raise a ConfigError.
#include <layers/errors.h>
#include <onnx/onnx_import.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        const std::string bytes(reinterpret_cast<const char *>(data), size);
        cnngen::import_onnx(cnngen::parse_onnx_model(bytes, "fuzz.onnx"), "fuzz.onnx", "fuzz");
    } catch (const cnngen::ConfigError &) {
    } catch (const Halide::CompileError &) {
    }
    return 0;
}
