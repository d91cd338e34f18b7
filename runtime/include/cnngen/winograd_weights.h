#pragma once
// G of Winograd's F(m x m, 3 x 3) (Lavin and Gray 2016), (m + 2) x 3, row-major: a 3x3 kernel g
// ([ky][kx]) becomes U = G g Gᵀ. The one copy: the runtime transforms weights with it when it
// packs them, the generator's layers (and their tests) name it beside Bᵀ and Aᵀ.
#include <vector>

namespace cnngen {

// Empty for a tile other than 2 or 4.
inline std::vector<double> winograd_weight_matrix(int m) {
    if (m == 2) return {1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1};
    if (m == 4)
        return {1.0 / 4,  0,         0,       -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6,
                1.0 / 24, 1.0 / 12,  1.0 / 6, 1.0 / 24, -1.0 / 12, 1.0 / 6, 0,        0,       1};
    return {};
}

}  // namespace cnngen
