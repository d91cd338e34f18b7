#include "gradients.h"

#include "../layers/errors.h"

using namespace Halide;

namespace cnngen {

std::vector<Func> gradients(const Func &scalar, const std::vector<Func> &wrt) {
    if (scalar.dimensions() != 0) fail("gradients: '{}' has {} dimensions, expected a scalar", scalar.name(), scalar.dimensions());
    const Derivative derivative = propagate_adjoints(scalar);
    std::vector<Func> result;
    for (const Func &f : wrt) {
        Func adjoint = derivative(f);
        if (!adjoint.defined()) fail("gradients: '{}' does not influence '{}'", f.name(), scalar.name());
        Func named(f.name() + "_grad");
        named(f.args()) = adjoint(f.args());
        result.push_back(named);
    }
    return result;
}

}  // namespace cnngen
