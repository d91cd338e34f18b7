// classify WEIGHTS_DIR IMAGES_IDX [LABELS_IDX]: loads weights, classifies, prints accuracy.
#include <cnngen/error.h>
#include <cnngen/idx.h>
#include <cnngen/model.h>

#include <cstdio>

#include "lenet5.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s WEIGHTS_DIR IMAGES_IDX [LABELS_IDX]\n", argv[0]);
        return 2;
    }
    try {
        cnngen::Model model(lenet5_model());
        model.load_weights(argv[1]);
        const cnngen::IdxImages images = cnngen::read_idx_images(argv[2]);
        const std::vector<float> logits = model.logits(images.pixels.data(), images.count);
        const std::vector<int> predicted = cnngen::argmax_rows(logits, model.classes());
        std::printf("classified %d images; first: %d\n", images.count, predicted.at(0));
        if (argc > 3) {
            const std::vector<int32_t> labels = cnngen::read_idx_labels(argv[3]);
            int correct = 0;
            for (size_t k = 0; k < predicted.size() && k < labels.size(); ++k) correct += predicted[k] == labels[k];
            std::printf("accuracy %.2f%%\n", 100.0 * correct / images.count);
        }
    } catch (const cnngen::RuntimeError &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
