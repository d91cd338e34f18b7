// Layer names that collide with every name the generator and runtime use (hostile_names.toml):
// logits against a chain of plain-loop references and one SGD step against finite differences
// of the reference loss, for the naive, cpu, fused-file and chained builds.
#include "model_references.h"

#include <catch2/catch.hpp>
#include <cnngen/model.h>

#include <cmath>
#include <random>

#include "hostile_chained.h"
#include "hostile_cpu.h"
#include "hostile_fused.h"
#include "hostile_naive.h"

namespace {

using namespace cnngen_test;

reference::Tensor hostile_reference(const reference::Tensor &input, Params &p) {
    using reference::Activation;
    reference::Conv2d pad1;
    pad1.pad_top = pad1.pad_bottom = pad1.pad_left = pad1.pad_right = 1;
    auto h = reference::conv2d(input, p["images.weight"], p["images.bias"], pad1);
    h = reference::pool2d(reference::activation(h, Activation::relu, 0), {reference::Pool::max, 2, 2, 2, 2});
    h = reference::activation(reference::conv2d(h, p["x.weight"], p["x.bias"], {}), Activation::tanh, 0);
    h = reference::activation(reference::fully_connected(h, p["fc.weight"], p["fc.bias"]), Activation::relu, 0);
    h = reference::activation(reference::fully_connected(h, p["d_fc.weight"], p["d_fc.bias"]), Activation::sigmoid, 0);
    h = reference::activation(reference::fully_connected(h, p["fc_next.weight"], p["fc_next.bias"]), Activation::relu, 0);
    return reference::fully_connected(h, p["grad_fc.weight"], p["grad_fc.bias"]);
}

reference::Tensor as_input(const std::vector<float> &images, int count, const std::vector<int> &chw) {
    return from_npy({{count, chw[0], chw[1], chw[2]}, images});
}

void check_logits(const cnngen::ModelDescription &description) {
    cnngen::Model model(description);
    model.initialize(5);
    Params params = params_of(model);
    for (int count : {1, 3, 4}) {
        INFO(description.name << " (" << description.schedule << "), " << count << " images");
        const std::vector<float> images = random_floats(size_t(count) * model.sample_size(), 11 + count);
        const std::vector<float> logits = model.logits(images.data(), count);
        const reference::Tensor expected = hostile_reference(as_input(images, count, description.input_shape), params);
        CHECK(reference::relative_error(logits_tensor(logits, count, model.classes()), expected) < 1e-4);
    }
}

// With momentum and weight decay 0 from zero velocities the new velocity is the batch gradient
// and the new parameter p - lr * gradient.
void check_training_step(const cnngen::ModelDescription &description) {
    INFO(description.name << " (" << description.schedule << ")");
    cnngen::Model model(description);
    model.initialize(5);
    const int batch = model.train_batch();
    REQUIRE(batch == 4);
    const std::vector<float> images = random_floats(size_t(batch) * model.sample_size(), 29);
    const std::vector<int32_t> labels{3, 0, 4, 1};
    Params params = params_of(model);
    const reference::Tensor x = as_input(images, batch, description.input_shape);
    const std::vector<int> label_list(labels.begin(), labels.end());
    auto loss_of = [&](Params &p) {
        return reference::loss(hostile_reference(x, p), label_list, {}, reference::Loss::softmax_cross_entropy, 1, 1);
    };
    const float lr = 0.5f;
    const cnngen::StepResult step = model.train_step(images.data(), labels.data(), {lr, 0.0f, 0.0f});
    CHECK(step.loss == Approx(loss_of(params)).epsilon(1e-5));
    std::mt19937 rng(3);
    const std::vector<cnngen::Tensor> velocities = model.velocities(), parameters = model.parameters();
    for (size_t k = 0; k < velocities.size(); ++k) {
        const std::string &name = description.parameters[k].name;
        const std::vector<float> &gradient = velocities[k].data;
        const std::vector<float> &updated = parameters[k].data;
        reference::Tensor &tensor = params[name];
        double scale = 1e-3, worst = 0, worst_update = 0;
        for (int sample = 0; sample < 8; ++sample) {
            const size_t at = rng() % tensor.size();
            const double original = tensor.data[at];
            const double numeric = finite_difference(params, name, at, loss_of);
            scale = std::max(scale, std::abs(numeric));
            worst = std::max(worst, std::abs(numeric - gradient[at]));
            worst_update = std::max(worst_update, std::abs(updated[at] - (original - lr * gradient[at])));
        }
        INFO(name << ": worst |gradient - finite difference| " << worst << " scale " << scale);
        CHECK(worst / scale < 1e-4);
        CHECK(worst_update < 1e-6);
    }
}

}  // namespace

TEST_CASE("hostile layer names give the reference logits under every schedule", "[model][names]") {
    check_logits(hostile_naive_model());
    check_logits(hostile_cpu_model());
    check_logits(hostile_fused_model());
}

TEST_CASE("hostile layer names train one step equal to the reference step", "[model][names][train]") {
    check_training_step(hostile_naive_model());
    check_training_step(hostile_cpu_model());
    check_training_step(hostile_fused_model());
    check_training_step(hostile_chained_model());
}
