#include "loss.h"

#include "activation.h"
#include "errors.h"

using namespace Halide;

namespace cnngen {

LossKind loss_kind_from_name(const std::string &layer, const std::string &name) {
    if (name == "softmax_cross_entropy") return LossKind::softmax_cross_entropy;
    if (name == "mean_squared_error" || name == "mse") return LossKind::mean_squared_error;
    if (name == "hinge") return LossKind::hinge;
    if (name == "huber") return LossKind::huber;
    fail("{}: loss '{}' unknown, expected one of softmax_cross_entropy, mean_squared_error, hinge, huber", layer, name);
}

bool loss_takes_labels(LossKind kind) {
    return kind == LossKind::softmax_cross_entropy || kind == LossKind::hinge;
}

Layer loss(const std::string &name, const Tensor &prediction, const Func &target, const LossParams &p) {
    if (prediction.shape.size() != 2)
        fail("{}: loss expects a 2-D (N, F) prediction, got shape {}", name, shape_string(prediction.shape));
    const int batch = prediction.shape[0], features = prediction.shape[1];
    Dims d;
    const Func &x = prediction.func;
    RDom rf(0, features, name + "_rf");
    RDom rn(0, batch, name + "_rn");
    Func per_sample(name + "_per_sample");
    std::map<std::string, Func> stages{{"per_sample", per_sample}};

    switch (p.kind) {
    case LossKind::softmax_cross_entropy: {
        Func row_max(name + "_max");
        row_max(d.n) = pure_maximum(features, [&](int k) { return x(k, d.n); });
        Func log_sum_exp(name + "_logsumexp");
        log_sum_exp(d.n) = log(sum(exp(x(rf, d.n) - row_max(d.n)))) + row_max(d.n);
        // Select instead of indexing by the label keeps the gradient a gather.
        Expr picked = sum(select(rf == target(d.n), x(rf, d.n), 0.0f));
        per_sample(d.n) = log_sum_exp(d.n) - picked;
        stages["max"] = row_max;
        stages["logsumexp"] = log_sum_exp;
        break;
    }
    case LossKind::hinge: {
        Func label_score(name + "_label_score");
        label_score(d.n) = sum(select(rf == target(d.n), x(rf, d.n), 0.0f));
        Expr violation = max(0.0f, p.margin - label_score(d.n) + x(rf, d.n));
        per_sample(d.n) = sum(select(rf == target(d.n), 0.0f, violation)) / float(features);
        stages["label_score"] = label_score;
        break;
    }
    case LossKind::mean_squared_error: {
        Expr diff = x(rf, d.n) - target(rf, d.n);
        per_sample(d.n) = sum(diff * diff) / float(features);
        break;
    }
    case LossKind::huber: {
        Expr diff = x(rf, d.n) - target(rf, d.n);
        Expr magnitude = abs(diff);
        Expr value = select(magnitude < p.delta, 0.5f * diff * diff, p.delta * (magnitude - 0.5f * p.delta));
        per_sample(d.n) = sum(value) / float(features);
        break;
    }
    }
    Func out(name);
    out() = sum(per_sample(rn)) / float(batch);
    return {name, "loss", {out, {}}, stages, {}};
}

}  // namespace cnngen
