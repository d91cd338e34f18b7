// Generated model libraries against chains of the plain-loop references, with weights
// and inputs written by numpy. Eight libraries are linked into this one program (lenet5 with
// four schedules, inference-only and with dropout, lenet5_classic, alexnet_small) with a single
// Halide runtime.
#include "model_references.h"

#include <catch2/catch.hpp>
#include <cnngen/model.h>
#include <cnngen/npy.h>

#include <cmath>

#include "alexnet_small.h"
#include "lenet5.h"
#include "lenet5_chained.h"
#include "lenet5_classic.h"
#include "lenet5_dropout.h"
#include "lenet5_fused.h"
#include "lenet5_inference.h"
#include "lenet5_naive.h"

namespace {

using namespace cnngen_test;

const std::string kFixtures = CNNGEN_FIXTURES_DIR;
constexpr double kForwardTolerance = 1e-4;   // float32 chain vs double reference, relative to max |logit|
constexpr double kGradientTolerance = 1e-4;  // float32 batch gradient vs double finite differences, relative

void check_forward(const cnngen::ModelDescription &description, const std::string &prefix, int batch,
                   reference::Tensor (*chain)(const reference::Tensor &, Params &)) {
    INFO(description.name << " batch " << batch);
    cnngen::Model model(description);
    model.load_weights(kFixtures + "/" + prefix + "_weights");
    const cnngen::NpyArray input = cnngen::read_npy(kFixtures + "/" + prefix + "_input_" + std::to_string(batch) + ".npy");
    const std::vector<float> logits = model.logits(input.data.data(), batch);
    Params params = params_of(model);
    const reference::Tensor expected = chain(from_npy(input), params);
    CHECK(reference::relative_error(logits_tensor(logits, batch, model.classes()), expected) < kForwardTolerance);
}

}  // namespace

TEST_CASE("generated LeNet-5 matches the chained references for several batch sizes", "[model][lenet5]") {
    for (int batch : {1, 3, 64, 70}) check_forward(lenet5_model(), "lenet5", batch, lenet5_reference);
}

TEST_CASE("generated naive LeNet-5 matches the chained references", "[model][lenet5]") {
    for (int batch : {1, 64}) check_forward(lenet5_naive_model(), "lenet5", batch, lenet5_reference);
}

TEST_CASE("LeNet-5 with the fused schedule file matches the chained references", "[model][lenet5][schedules]") {
    for (int batch : {1, 3, 64, 70}) check_forward(lenet5_fused_model(), "lenet5", batch, lenet5_reference);
}

TEST_CASE("LeNet-5 1998 style (tanh, average pooling) with its schedule file matches the chained references",
          "[model][lenet5_classic]") {
    // Same parameter names and shapes as LeNet-5: its fixtures serve.
    for (int batch : {1, 3, 64}) check_forward(lenet5_classic_model(), "lenet5", batch, lenet5_classic_reference);
}

TEST_CASE("images at any address give the same logits (full batches are read in place)", "[model][lenet5]") {
    const cnngen::NpyArray input = cnngen::read_npy(kFixtures + "/lenet5_input_64.npy");
    for (const cnngen::ModelDescription *description : {&lenet5_model(), &lenet5_fused_model()}) {
        INFO(description->name << " (" << description->schedule << ")");
        cnngen::Model model(*description);
        model.load_weights(kFixtures + "/lenet5_weights");
        const std::vector<float> expected = model.logits(input.data.data(), 64);
        // One float past a 64-byte boundary: no vector alignment at all.
        std::vector<float> storage(input.data.size() + 32);
        float *shifted = storage.data() + (16 - reinterpret_cast<uintptr_t>(storage.data()) / 4 % 16) % 16 + 1;
        std::copy(input.data.begin(), input.data.end(), shifted);
        CHECK(model.logits(shifted, 64) == expected);
        CHECK(model.logits(shifted, 1) == model.logits(input.data.data(), 1));
    }
}

TEST_CASE("generated AlexNet-style net (strides, LRN, groups) matches the chained references", "[model][alexnet]") {
    for (int batch : {1, 5, 32}) check_forward(alexnet_small_model(), "alexnet_small", batch, alexnet_small_reference);
}

// One training step with momentum 0, weight decay 0 and zero velocities leaves the batch
// gradient in the velocities; sampled entries of each against central finite differences of
// the reference chain's loss.
void check_step_gradients(const cnngen::ModelDescription &description, const std::string &prefix,
                          reference::Tensor (*chain)(const reference::Tensor &, Params &)) {
    cnngen::Model model(description);
    model.load_weights(kFixtures + "/" + prefix + "_weights");
    const int batch = model.train_batch();
    const cnngen::NpyArray input =
        cnngen::read_npy(kFixtures + "/" + prefix + "_input_" + std::to_string(batch) + ".npy");
    std::vector<int32_t> labels(static_cast<size_t>(batch), 0);
    for (int n = 0; n < batch; ++n) labels[size_t(n)] = (n * 7) % 10;
    Params params = params_of(model);
    const reference::Tensor x = from_npy(input);
    auto loss_of = [&](Params &p) {
        return reference::loss(chain(x, p), labels, {}, reference::Loss::softmax_cross_entropy, 1, 1);
    };

    const cnngen::StepResult step = model.train_step(input.data.data(), labels.data(), {0.0f, 0.0f, 0.0f});
    CHECK(step.loss == Approx(loss_of(params)).epsilon(1e-5));
    std::mt19937 rng(3);
    const std::vector<cnngen::Tensor> velocities = model.velocities();
    for (size_t k = 0; k < velocities.size(); ++k) {
        const std::string &name = model.description().parameters[k].name;
        const std::vector<float> &gradient = velocities[k].data;
        reference::Tensor &tensor = params[name];
        double scale = 1e-3, worst = 0;
        for (int sample = 0; sample < 6; ++sample) {
            const size_t at = rng() % tensor.size();
            // A small step (1e-6 by default): ReLU and max kinks lie close.
            const double numeric = finite_difference(params, name, at, loss_of);
            scale = std::max(scale, std::abs(numeric));
            worst = std::max(worst, std::abs(numeric - gradient[at]));
        }
        INFO(description.name << " " << name << ": worst |gradient - finite difference| " << worst << " scale "
                              << scale);
        CHECK(worst / scale < kGradientTolerance);
    }
}

TEST_CASE("a LeNet-5 training step's gradients match finite differences of the reference loss", "[model][train]") {
    check_step_gradients(lenet5_model(), "lenet5", lenet5_reference);
}

TEST_CASE("hand-derived LRN, grouped convolution, tanh and average pooling steps match finite differences",
          "[model][train]") {
    check_step_gradients(alexnet_small_model(), "alexnet_small", alexnet_small_reference);
    check_step_gradients(lenet5_classic_model(), "lenet5", lenet5_classic_reference);
}

TEST_CASE("SGD applies momentum and weight decay as torch.optim.SGD does", "[model][train]") {
    cnngen::Model model(lenet5_model());
    model.load_weights(kFixtures + "/lenet5_weights");
    const cnngen::NpyArray input = cnngen::read_npy(kFixtures + "/lenet5_input_64.npy");
    std::vector<int32_t> labels(64, 3);
    const auto initial = model.parameters();
    // lr 0 keeps the parameters, so the same batch gives the same gradient g twice.
    model.train_step(input.data.data(), labels.data(), {0.0f, 0.5f, 0.0f});
    const auto g = model.velocities();
    CHECK(model.parameters()[0].data == initial[0].data);
    model.train_step(input.data.data(), labels.data(), {0.0f, 0.5f, 0.1f});
    const auto v = model.velocities();
    for (size_t k = 0; k < g.size(); ++k)
        for (size_t i = 0; i < g[k].data.size(); i += 97)
            CHECK(v[k].data[i] ==
                  Approx(0.5 * g[k].data[i] + g[k].data[i] + 0.1 * initial[k].data[i]).margin(1e-6));
    // lr 0.1: p <- p - lr * v.
    const auto before = model.parameters();
    model.train_step(input.data.data(), labels.data(), {0.1f, 0.0f, 0.0f});
    const auto after = model.parameters(), velocity = model.velocities();
    for (size_t k = 0; k < g.size(); ++k)
        for (size_t i = 0; i < g[k].data.size(); i += 97)
            CHECK(after[k].data[i] == Approx(before[k].data[i] - 0.1 * velocity[k].data[i]).margin(1e-6));
}

// Three SGD steps from the same weights; losses and parameters agree with the tuned fused step.
void check_same_training(const cnngen::ModelDescription &other) {
    INFO(other.name << " (" << other.schedule << ") against lenet5 (cpu, fused)");
    cnngen::Model tuned(lenet5_model()), model(other);
    tuned.load_weights(kFixtures + "/lenet5_weights");
    model.load_weights(kFixtures + "/lenet5_weights");
    const cnngen::NpyArray input = cnngen::read_npy(kFixtures + "/lenet5_input_64.npy");
    std::vector<int32_t> labels(64, 0);
    for (int n = 0; n < 64; ++n) labels[size_t(n)] = n % 10;
    for (int step = 0; step < 3; ++step) {
        const auto a = tuned.train_step(input.data.data(), labels.data(), {0.05f, 0.9f, 1e-4f});
        const auto b = model.train_step(input.data.data(), labels.data(), {0.05f, 0.9f, 1e-4f});
        CHECK(a.loss == Approx(b.loss).epsilon(1e-5));
        CHECK(a.correct == b.correct);
    }
    const auto expected = tuned.parameters(), got = model.parameters();
    for (size_t k = 0; k < expected.size(); ++k)
        for (size_t i = 0; i < expected[k].data.size(); ++i)
            REQUIRE(expected[k].data[i] == Approx(got[k].data[i]).margin(1e-5));
}

TEST_CASE("every schedule gives the same training step", "[model][train][schedules]") {
    check_same_training(lenet5_naive_model());
    check_same_training(lenet5_fused_model());
}

TEST_CASE("the chained training step (per-layer kernels) gives the fused step's result", "[model][train][chained]") {
    check_same_training(lenet5_chained_model());
}

// The data-parallel step's hook, without MPI: the exchange sees this batch's gradients, loss and
// count, and the update uses what it leaves. Scaling the gradients by 1/2 without momentum is
// the plain step at half the learning rate.
TEST_CASE("a split step's gradient exchange sees the step and decides the update", "[model][train][data_parallel]") {
    cnngen::Model split(lenet5_chained_model()), plain(lenet5_model());
    REQUIRE(split.has_split_step());
    split.load_weights(kFixtures + "/lenet5_weights");
    plain.load_weights(kFixtures + "/lenet5_weights");
    const cnngen::NpyArray input = cnngen::read_npy(kFixtures + "/lenet5_input_64.npy");
    std::vector<int32_t> labels(64, 0);
    for (int n = 0; n < 64; ++n) labels[size_t(n)] = (3 * n) % 10;
    for (int step = 0; step < 3; ++step) {
        cnngen::StepResult seen;
        size_t gradient_values = 0;
        const auto halve = [&](std::vector<float> &gradients, cnngen::StepResult &result) {
            seen = result;
            gradient_values = gradients.size();
            for (float &g : gradients) g *= 0.5f;
        };
        const auto a = split.train_step(input.data.data(), labels.data(), {0.1f, 0.0f, 0.0f}, halve);
        const auto b = plain.train_step(input.data.data(), labels.data(), {0.05f, 0.0f, 0.0f});
        CHECK(gradient_values == split.gradient_count());
        CHECK(seen.loss == Approx(b.loss).epsilon(1e-5));
        CHECK(a.loss == seen.loss);
        CHECK(seen.correct == b.correct);
    }
    const auto expected = plain.parameters(), got = split.parameters();
    for (size_t k = 0; k < expected.size(); ++k)
        for (size_t i = 0; i < expected[k].data.size(); ++i)
            REQUIRE(expected[k].data[i] == Approx(got[k].data[i]).margin(1e-5));

    const auto drop_one = [](std::vector<float> &gradients, cnngen::StepResult &) { gradients.pop_back(); };
    CHECK_THROWS_WITH(split.train_step(input.data.data(), labels.data(), {}, drop_one),
                      Catch::Contains("the gradient exchange returned 61705 values, expected 61706"));
    CHECK_FALSE(plain.has_split_step());  // built with --no-mpi: the fused step alone
    CHECK_THROWS_WITH(plain.train_step(input.data.data(), labels.data(), {}, [](std::vector<float> &, cnngen::StepResult &) {}),
                      Catch::Contains("has no split training step"));
}

TEST_CASE("inference reads the convolution weights packed, packed again after every change", "[model][packed]") {
    cnngen::Model model(lenet5_model());
    size_t packed_bytes = 0;
    for (const cnngen::ParameterEntry &p : model.description().parameters) {
        INFO(p.name);
        CHECK((p.packed_block > 0) == (p.shape.size() == 4));  // the cpu schedule packs every conv weight
        if (p.packed_block) packed_bytes += size_t(p.shape[0] * p.shape[1] * p.shape[2] * p.shape[3]) * sizeof(float);
    }
    CHECK(model.state_bytes().packed_copies == packed_bytes);  // beside the plain ones training reads
    model.load_weights(kFixtures + "/lenet5_weights");
    const cnngen::NpyArray input = cnngen::read_npy(kFixtures + "/lenet5_input_64.npy");
    std::vector<int32_t> labels(64, 0);
    for (int n = 0; n < 64; ++n) labels[size_t(n)] = n % 10;
    const std::vector<float> before = model.logits(input.data.data(), 64);
    for (int step = 0; step < 2; ++step) model.train_step(input.data.data(), labels.data(), {0.05f, 0.9f, 0.0f});
    const std::vector<float> after = model.logits(input.data.data(), 64);
    // The same weights set on a fresh model (packed as they are set), and on the naive
    // schedule's, which reads them plain.
    cnngen::Model fresh(lenet5_model()), naive(lenet5_naive_model());
    fresh.set_parameters(model.parameters());
    naive.set_parameters(model.parameters());
    const std::vector<float> from_fresh = fresh.logits(input.data.data(), 64);
    const std::vector<float> from_naive = naive.logits(input.data.data(), 64);
    const auto as_tensor = [](const std::vector<float> &logits) { return logits_tensor(logits, 64, 10); };
    CHECK(reference::relative_error(as_tensor(after), as_tensor(from_fresh)) < 1e-6);
    CHECK(reference::relative_error(as_tensor(after), as_tensor(from_naive)) < kForwardTolerance);
    // The steps moved the logits (by 1% here) far past the tolerances above.
    CHECK(reference::relative_error(as_tensor(before), as_tensor(after)) > 1e-3);
}

TEST_CASE("an inference-only library holds its convolution weights packed alone, and gives them back as PyTorch's",
          "[model][packed]") {
    for (int batch : {1, 64}) check_forward(lenet5_inference_model(), "lenet5", batch, lenet5_reference);
    cnngen::Model model(lenet5_inference_model());
    CHECK(model.state_bytes().packed_copies == 0);
    model.load_weights(kFixtures + "/lenet5_weights");
    const std::vector<cnngen::Tensor> held = model.parameters();
    const auto &parameters = model.description().parameters;
    size_t bytes = 0;
    for (size_t k = 0; k < parameters.size(); ++k) {
        INFO(parameters[k].name);
        const cnngen::NpyArray loaded = cnngen::read_npy(kFixtures + "/lenet5_weights/" + parameters[k].name + ".npy");
        CHECK(held[k].shape == loaded.shape);
        CHECK(held[k].data == loaded.data);
        bytes += loaded.data.size() * sizeof(float);
    }
    CHECK(model.state_bytes().parameters == bytes);
}

TEST_CASE("dropout draws a new mask each training step, the same from the same seed, and is the identity at inference",
          "[model][dropout]") {
    const cnngen::NpyArray input = cnngen::read_npy(kFixtures + "/lenet5_input_64.npy");
    std::vector<int32_t> labels(64, 0);
    for (int n = 0; n < 64; ++n) labels[size_t(n)] = n % 10;
    cnngen::Model model(lenet5_dropout_model()), twin(lenet5_dropout_model()), plain(lenet5_model());
    for (cnngen::Model *m : {&model, &twin, &plain}) m->load_weights(kFixtures + "/lenet5_weights");
    const auto logits = [&](cnngen::Model &m) { return logits_tensor(m.logits(input.data.data(), 64), 64, 10); };
    CHECK(reference::relative_error(logits(model), logits(plain)) < 1e-6);
    // lr 0: the weights stay, so two steps differ only by their masks.
    const cnngen::SgdSettings frozen{0.0f, 0.0f, 0.0f};
    const auto first = model.train_step(input.data.data(), labels.data(), frozen);
    const auto second = model.train_step(input.data.data(), labels.data(), frozen);
    CHECK(first.loss != second.loss);
    // The same seed (both initialized with seed 1 when made) gives the same step.
    CHECK(twin.train_step(input.data.data(), labels.data(), frozen).loss == first.loss);
}

TEST_CASE("a training step through dropout matches finite differences of the reference loss with its mask",
          "[model][dropout][train]") {
    check_step_gradients(lenet5_dropout_model(), "lenet5", lenet5_dropout_first_step_reference);
}

TEST_CASE("loading weights rejects bad tensors naming them", "[model][errors]") {
    cnngen::Model model(lenet5_model());
    const std::string bad = kFixtures + "/bad/";
    CHECK_THROWS_WITH(model.load_weights(bad + "missing_tensor"), Catch::Contains("tensor 'fc3.bias' missing"));
    CHECK_THROWS_WITH(model.load_weights(bad + "extra_tensor"), Catch::Contains("unexpected tensor 'fc4.weight'"));
    CHECK_THROWS_WITH(model.load_weights(bad + "wrong_shape"),
                      Catch::Contains("'conv1.weight' has shape (6, 1, 3, 3), expected (6, 1, 5, 5)"));
    CHECK_THROWS_WITH(model.load_weights(bad + "wrong_dtype"), Catch::Contains("fc1.bias.npy: dtype '<f8'"));
    CHECK_THROWS_WITH(model.load_weights(bad + "fortran_order"), Catch::Contains("fc1.weight.npy: Fortran order"));
    CHECK_THROWS_WITH(model.load_weights(bad + "truncated_npy"), Catch::Contains("fc2.weight.npy: data truncated"));
}
