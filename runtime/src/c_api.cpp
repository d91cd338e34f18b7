#include "cnngen/cnngen.h"

#include "cnngen/model.h"

#include <algorithm>
#include <string>

struct cnngen_model {
    cnngen::Model model;
};

namespace {

thread_local std::string last_error;

template <typename Fn>
int guarded(Fn fn) {
    try {
        fn();
        return 0;
    } catch (const std::exception &e) {
        last_error = e.what();
        return 1;
    }
}

}  // namespace

extern "C" {

cnngen_model *cnngen_model_create(const cnngen_description *description) {
    cnngen_model *model = nullptr;
    guarded([&] { model = new cnngen_model{cnngen::Model(*reinterpret_cast<const cnngen::ModelDescription *>(description))}; });
    return model;
}

void cnngen_model_destroy(cnngen_model *model) { delete model; }

int cnngen_model_load_weights(cnngen_model *model, const char *dir) {
    return guarded([&] { model->model.load_weights(dir); });
}

int cnngen_model_logits(cnngen_model *model, const float *images, int count, float *logits) {
    return guarded([&] {
        const std::vector<float> result = model->model.logits(images, count);
        std::copy(result.begin(), result.end(), logits);
    });
}

int cnngen_model_classes(const cnngen_model *model) { return model->model.classes(); }
int cnngen_model_sample_size(const cnngen_model *model) { return model->model.sample_size(); }
const char *cnngen_last_error(void) { return last_error.c_str(); }

}  // extern "C"
