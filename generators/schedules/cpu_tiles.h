#pragma once
// Building blocks the forward and backward CPU schedules share.
#include "schedule.h"

namespace cnngen {

// Vector registers the target's code can keep accumulators in: 32 with AVX-512 and on
// AArch64 (NEON/SVE), 16 on other x86 levels and elsewhere.
int vector_registers(const Halide::Target &target);

// Largest divisor of `n` that is at most `limit`.
int divisor_at_most(int n, int limit);
// Channel planes of `plane` values a parallel task takes in element-wise passes and copies: a
// divisor of `channels`, as many as fit in 16K values.
int planes_per_task(int channels, int64_t plane);
// f(x, y, c, n) in parallel over its samples and blocks of `planes` channel planes (a divisor of
// its channels); returns the Var of a plane within its block.
Halide::Var parallel_over_plane_blocks(Halide::Func f, int planes);

// A layer's size by name (Layer::sizes), `otherwise` where it has none.
int size_or(const Layer &layer, const char *name, int otherwise);
// A convolution with a group per output channel.
bool is_depthwise(const Layer &layer);

// The schedule file's vector width, else the target's natural one, at most `extent`.
int vector_width(const LayerSchedule &options, const Halide::Target &target, int extent);

// A convolution-shaped layer (output, stages["sum"], reductions["r"], x-y-c-n): the sum
// over a register tile of x vectors times output channels (times rows, where one x vector and
// few channels leave registers over). The tiles are those of `tile_owner`
// when given (an element-wise consumer the layer's output is inlined into), else of the layer's
// output. Returns whether rows are the outer loop (else a channel tile's rows run in turn inside it).
bool conv_tile_along_x(const Layer &layer, const Halide::Target &target, const LayerSchedule &options,
                       Halide::Var tile_var, const TilePlacement &placement, const Halide::Func *tile_owner = nullptr);

// Whether a convolution's register tile runs across output channels (x positions times vectors
// of channels) rather than along x (x vectors times channels), from its options (`vectorize`),
// the vector width and register count, the output's channels and width, the kernel's taps, the
// terms each output sums and its groups. The tuner checks tiles by the same rule.
bool conv_tiles_across_channels(const LayerSchedule &options, int vec, int registers, int out_channels, int out_width,
                                int taps, int reduction, int groups);
// The same for a convolution-shaped layer (stages["sum"], reductions["r"]) under `target`.
bool tiles_across_channels(const Layer &layer, const Halide::Target &target, const LayerSchedule &options);
// A tile across channels: vectors of output channels (2 where the channels fill two), and the x
// positions the registers leave for them by default.
int across_channels_vectors(int out_channels, int vec);
int across_channels_positions(int registers, int channel_vectors);

// A convolution-shaped layer's register tiles on `out` (its output, or the consumer it is
// inlined into): along x, or across output channels (conv_tiles_across_channels), the weights
// (stages["weight"]) then transposed once per call unless sizes["packed_weights"] says they
// arrive with output channels innermost. Returns whether rows are the outer loop.
bool schedule_conv_tiles(const Layer &layer, const Halide::Target &target, const LayerSchedule &options,
                         Halide::Func out, Halide::Var tile, const TilePlacement &placement = {});

// A Winograd convolution (layers/winograd.h) whose output is computed by `out` (the layer's
// own, or the last layer of its epilogue); inside `inside`'s loop over samples where given.
void schedule_winograd_cpu(const Layer &layer, const Halide::Target &target, const LayerSchedule &options,
                           Halide::Func out, const Halide::Func *inside = nullptr);

}  // namespace cnngen
