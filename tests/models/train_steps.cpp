// Runs SGD steps of a generated model on batches from .npy files, for comparison with
// PyTorch by real_size_reference.py: SGD lr 0.01, momentum 0.9, velocities starting at zero.
//
// usage: train_steps INITIAL_WEIGHTS_DIR IMAGES.npy (S,B,C,H,W) LABELS.npy (S,B) OUT_DIR
// OUT_DIR gets the weights and, as velocity_NAME.npy, the velocities.
#include <cnngen/error.h>
#include <cnngen/model.h>
#include <cnngen/npy.h>
#include <fmt/core.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include CNNGEN_MODEL_HEADER

int main(int argc, char **argv) {
    if (argc != 5) {
        fmt::print(stderr, "usage: {} INITIAL_WEIGHTS_DIR IMAGES.npy LABELS.npy OUT_DIR\n", argv[0]);
        return 2;
    }
    try {
        cnngen::Model model(CNNGEN_MODEL_DESCRIPTION());
        model.load_weights(argv[1]);
        const cnngen::NpyArray images = cnngen::read_npy(argv[2]), labels = cnngen::read_npy(argv[3]);
        const int batch = model.train_batch();
        if (labels.shape.size() != 2 || labels.shape[1] != batch || images.shape.empty() ||
            images.shape[0] != labels.shape[0] || images.data.size() != labels.data.size() * model.sample_size())
            cnngen::runtime_fail("{} and {}: expected (steps, {}) labels and their images", argv[2], argv[3], batch);
        const int steps = labels.shape[0];
        const cnngen::SgdSettings sgd;  // lr 0.01, momentum 0.9
        for (int step = 0; step < steps; ++step) {
            std::vector<int32_t> step_labels(static_cast<size_t>(batch));
            for (int n = 0; n < batch; ++n) step_labels[size_t(n)] = int32_t(labels.data[size_t(step * batch + n)]);
            const cnngen::StepResult result =
                model.train_step(images.data.data() + size_t(step) * batch * model.sample_size(), step_labels.data(), sgd);
            fmt::print("step {}: loss {:.6f}\n", step + 1, result.loss);
        }
        model.save_weights(argv[4]);
        const std::vector<cnngen::Tensor> velocities = model.velocities();
        for (size_t k = 0; k < velocities.size(); ++k)
            cnngen::write_npy(std::string(argv[4]) + "/velocity_" + model.description().parameters[k].name + ".npy",
                              velocities[k].shape, velocities[k].data.data());
    } catch (const std::exception &e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    }
    return 0;
}
