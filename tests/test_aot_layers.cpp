// AOT-generated layer libraries (every schedule kind) against the plain-loop reference.
#include "aot_calls.h"

#include <catch2/catch.hpp>

#include "aot_avg_pool_cpu.h"
#include "aot_ce_loss_cpu.h"
#include "aot_conv_lenet1_adams2019.h"
#include "aot_conv_lenet1_cpu.h"
#include "aot_conv_lenet1_li2018.h"
#include "aot_conv_lenet1_mullapudi2016.h"
#include "aot_conv_lenet1_naive.h"
#include "aot_conv_odd_cpu.h"
#include "aot_conv_odd_mullapudi2016.h"
#include "aot_conv_odd_naive.h"
#include "aot_huber_loss_cpu.h"
#include "aot_lenet_fc1_cpu.h"
#include "aot_lenet_pool_cpu.h"
#include "aot_lrn_inter_cpu.h"
#include "aot_lrn_intra_cpu.h"
#include "aot_relu_cpu.h"

namespace {

template <typename Fn>
void check(const std::string &config, const std::string &schedule, Fn fn) {
    INFO(config << " " << schedule);
    aot::Fixture f = aot::fixture(config);
    int status = -1;
    reference::Tensor got = aot::run(fn, f, status);
    REQUIRE(status == 0);
    CHECK(reference::relative_error(got, f.expected) < aot::kTolerance);
}

}  // namespace

TEST_CASE("AOT conv2d for LeNet-5 conv1 matches the reference under every schedule", "[aot][conv2d]") {
    check("lenet_conv1", "naive", aot::Conv(aot_conv_lenet1_naive));
    check("lenet_conv1", "cpu", aot::Conv(aot_conv_lenet1_cpu));
    check("lenet_conv1", "mullapudi2016", aot::Conv(aot_conv_lenet1_mullapudi2016));
    check("lenet_conv1", "li2018", aot::Conv(aot_conv_lenet1_li2018));
    check("lenet_conv1", "adams2019", aot::Conv(aot_conv_lenet1_adams2019));
}

TEST_CASE("AOT conv2d with stride, uneven padding, dilation and groups matches the reference", "[aot][conv2d]") {
    check("odd_conv", "naive", aot::Conv(aot_conv_odd_naive));
    check("odd_conv", "cpu", aot::Conv(aot_conv_odd_cpu));
    check("odd_conv", "mullapudi2016", aot::Conv(aot_conv_odd_mullapudi2016));
}

TEST_CASE("AOT pooling, activation, LRN, FC and loss libraries match the reference", "[aot]") {
    check("lenet_pool", "cpu", aot::Unary(aot_lenet_pool_cpu));
    check("avg_pool", "cpu", aot::Unary(aot_avg_pool_cpu));
    check("relu", "cpu", aot::Unary(aot_relu_cpu));
    check("lrn_inter", "cpu", aot::Unary(aot_lrn_inter_cpu));
    check("lrn_intra", "cpu", aot::Unary(aot_lrn_intra_cpu));
    check("lenet_fc1", "cpu", aot::Conv(aot_lenet_fc1_cpu));
    check("ce_loss", "cpu", aot::Loss{aot_ce_loss_cpu});
    check("huber_loss", "cpu", aot::Loss{aot_huber_loss_cpu});
}

TEST_CASE("AOT libraries reject buffers of the wrong shape instead of reading out of bounds", "[aot][errors]") {
    // Without a handler Halide's default one aborts the process.
    static std::string last_error;
    halide_set_error_handler([](void *, const char *message) { last_error = message; });
    aot::Fixture f = aot::fixture("lenet_conv1");
    f.inputs["input"] = reference::Tensor({2, 1, 27, 28});
    int status = 0;
    aot::run(aot::Conv(aot_conv_lenet1_cpu), f, status);
    CHECK(status != 0);
    CHECK_THAT(last_error, Catch::Contains("input"));
    halide_set_error_handler(nullptr);
}
