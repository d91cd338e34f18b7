#include "gradient_check.h"

#include <schedules/schedule.h>
#include <training/gradients.h>

#include <cmath>

using namespace Halide;

namespace testing_support {

namespace {

constexpr double kStep = 1e-5;        // central differences in double: truncation error ~1e-10
constexpr int kCoordinatesPerTensor = 12;

double objective(GradientCase &c, const reference::Tensor &input, std::map<std::string, reference::Tensor> &params,
                 const reference::Tensor &projection) {
    reference::Tensor out = c.forward(input, params);
    if (c.scalar_output) return out.data.at(0);
    double total = 0;
    for (size_t k = 0; k < out.size(); ++k) total += out.data[k] * projection.data[k];
    return total;
}

}  // namespace

double worst_gradient_error(GradientCase &c, const std::string &schedule, std::mt19937 &rng, GradientSource source) {
    Buffer<float> input_buffer = to_halide(c.input);
    Func input_func("input");
    input_func(_) = input_buffer(_);

    std::map<std::string, Func> param_funcs;
    cnngen::ParamSource base = c.params.source();
    cnngen::ParamSource recording = [&](const std::string &name, const cnngen::Shape &shape) {
        Func f = base(name, shape);
        param_funcs[name] = f;
        return f;
    };
    cnngen::Layer layer = c.build({input_func, c.input.shape}, recording);

    reference::Tensor projection;
    Func scalar("objective");
    if (c.scalar_output) {
        scalar() = layer.output.func();
    } else {
        projection = random_tensor(layer.output.shape, rng);
        Buffer<float> projection_buffer = to_halide(projection);
        Region region;
        for (int d = projection_buffer.dimensions() - 1; d >= 0; --d) region.insert(region.begin(), {0, projection_buffer.dim(d).extent()});
        RDom r(region);
        std::vector<Expr> at(r.dimensions());
        for (int d = 0; d < r.dimensions(); ++d) at[d] = r[d];
        scalar() = sum(layer.output.func(at) * projection_buffer(at));
    }

    std::vector<Func> wrt{input_func};
    std::vector<std::string> names{"input"};
    for (const auto &[name, f] : param_funcs) {
        wrt.push_back(f);
        names.push_back(name);
    }
    const Target target = get_jit_target_from_environment();
    std::vector<Func> grads;
    if (source == GradientSource::autodiff) {
        grads = cnngen::gradients(scalar, wrt);
        cnngen::schedule_gradients(schedule, grads, {}, target);
    } else {
        // The objective's gradient with respect to the layer output is the projection.
        Func d_output("d_output");
        if (c.scalar_output) {
            d_output() = 1.0f;
        } else {
            Buffer<float> projection_buffer = to_halide(projection);
            d_output(_) = projection_buffer(_);
        }
        cnngen::Gradients g = c.backward({input_func, c.input.shape}, recording, layer, {d_output, layer.output.shape});
        grads.push_back(g.d_input.func);
        for (size_t k = 1; k < names.size(); ++k) grads.push_back(g.d_params.at(names[k]));
        cnngen::schedule_backward(schedule, g, target);
        for (Func f : grads) f.compute_root();
    }

    std::vector<Buffer<>> buffers;
    for (size_t k = 0; k < wrt.size(); ++k) {
        const reference::Tensor &t = k == 0 ? c.input : c.params.tensors.at(names[k]);
        buffers.push_back(Buffer<float>(std::vector<int>(t.shape.rbegin(), t.shape.rend())));
    }
    Realization realization(buffers);
    Pipeline(grads).realize(realization, target);

    double worst = 0;
    for (size_t k = 0; k < wrt.size(); ++k) {
        reference::Tensor halide_grad = from_halide(Buffer<float>(realization[k]));
        reference::Tensor input = c.input;
        auto params = c.params.tensors;
        reference::Tensor &perturbed = k == 0 ? input : params.at(names[k]);
        double scale = 1, error = 0;
        for (int sample = 0; sample < kCoordinatesPerTensor; ++sample) {
            const size_t at = rng() % perturbed.size();
            const double original = perturbed.data[at];
            perturbed.data[at] = original + kStep;
            const double plus = objective(c, input, params, projection);
            perturbed.data[at] = original - kStep;
            const double minus = objective(c, input, params, projection);
            perturbed.data[at] = original;
            const double numeric = (plus - minus) / (2 * kStep);
            scale = std::max(scale, std::abs(numeric));
            error = std::max(error, std::abs(numeric - halide_grad.data[at]));
        }
        worst = std::max(worst, error / scale);
    }
    return worst;
}

}  // namespace testing_support
