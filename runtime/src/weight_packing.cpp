#include "weight_packing.h"

#include "cnngen/error.h"
#include "cnngen/winograd_weights.h"

#include <fmt/ranges.h>

#include <array>

namespace cnngen {

namespace {

// Copies an OIHW weight between PyTorch's layout and its packed one, [O / block, I, H, W,
// block], in the direction `to_packed` says.
void repack(const ParameterEntry &p, const float *from, float *to, bool to_packed) {
    const size_t block = size_t(p.packed_block), outputs = size_t(p.shape[0]);
    const size_t per_output = size_t(p.shape[1]) * size_t(p.shape[2]) * size_t(p.shape[3]);  // I x H x W
    for (size_t o = 0; o < outputs; ++o) {
        const size_t first = (o / block) * per_output * block + o % block;  // packed index of (o, 0, 0, 0)
        for (size_t k = 0; k < per_output; ++k) {
            const size_t plain = o * per_output + k, packed = first + k * block;
            if (to_packed) to[packed] = from[plain];
            else to[plain] = from[packed];
        }
    }
}

// U = G g Gᵀ per (o, i), in double, into [O / block, a, a, I, block] (a = m + 2).
void winograd_pack(const ParameterEntry &p, const float *plain, float *packed) {
    const int m = p.winograd_tile, a = m + 2;
    if (p.shape.size() != 4 || p.shape[2] != 3 || p.shape[3] != 3)
        runtime_fail("tensor '{}': Winograd's F({}x{}, 3x3) packs 3x3 kernels, the shape is ({})", p.name, m, m,
                     fmt::join(p.shape, ", "));
    const std::vector<double> g_matrix = winograd_weight_matrix(m);
    if (g_matrix.empty()) runtime_fail("tensor '{}': Winograd output tile {} unknown, expected 2 or 4", p.name, m);
    const size_t outputs = size_t(p.shape[0]), inputs = size_t(p.shape[1]), block = size_t(p.packed_block);
    for (size_t o = 0; o < outputs; ++o)
        for (size_t i = 0; i < inputs; ++i) {
            const float *g = plain + (o * inputs + i) * 9;
            std::array<double, 6 * 3> rows{};  // G g: a x 3
            for (int r = 0; r < a; ++r)
                for (int kx = 0; kx < 3; ++kx)
                    for (int ky = 0; ky < 3; ++ky) rows[size_t(r * 3 + kx)] += g_matrix[size_t(r * 3 + ky)] * g[ky * 3 + kx];
            for (int ay = 0; ay < a; ++ay)
                for (int ax = 0; ax < a; ++ax) {
                    double u = 0;
                    for (int kx = 0; kx < 3; ++kx) u += rows[size_t(ay * 3 + kx)] * g_matrix[size_t(ax * 3 + kx)];
                    const size_t at = (((o / block) * size_t(a) + size_t(ay)) * size_t(a) + size_t(ax)) * inputs + i;
                    packed[at * block + o % block] = float(u);
                }
        }
}

}  // namespace

std::vector<int> packed_shape(const ParameterEntry &p) {
    if (!p.packed_block) return {};
    if (p.winograd_tile) {
        const int a = p.winograd_tile + 2;
        return {p.shape[0] / p.packed_block, a, a, p.shape[1], p.packed_block};
    }
    return {p.shape[0] / p.packed_block, p.shape[1], p.shape[2], p.shape[3], p.packed_block};
}

void pack_weight(const ParameterEntry &p, const float *plain, float *packed) {
    if (p.winograd_tile) return winograd_pack(p, plain, packed);
    repack(p, plain, packed, true);
}

bool can_unpack(const ParameterEntry &p) { return !p.winograd_tile; }

void unpack_weight(const ParameterEntry &p, const float *packed, float *plain) {
    if (!can_unpack(p)) runtime_fail("tensor '{}': its Winograd transform cannot be undone", p.name);
    repack(p, packed, plain, false);
}

}  // namespace cnngen
