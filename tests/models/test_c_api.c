/* The generated model through the plain C interface: load weights, classify, and
 * report errors through cnngen_last_error(). Usage: test_c_api WEIGHTS_DIR */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lenet5_c.h"

#define EXPECT(condition, message)                                   \
    do {                                                             \
        if (!(condition)) {                                          \
            fprintf(stderr, "FAILED: %s (%s)\n", message, #condition); \
            return 1;                                                \
        }                                                            \
    } while (0)

int main(int argc, char **argv) {
    static float images[3 * 28 * 28];
    float logits[3 * 10];
    cnngen_model *model = cnngen_model_create(lenet5_description());
    EXPECT(model != NULL, "create");
    EXPECT(cnngen_model_classes(model) == 10 && cnngen_model_sample_size(model) == 784, "shapes");
    EXPECT(cnngen_model_load_weights(model, "/nonexistent") != 0, "missing directory is an error");
    EXPECT(strstr(cnngen_last_error(), "/nonexistent: weights directory does not exist") != NULL, "message");
    EXPECT(argc > 1 && cnngen_model_load_weights(model, argv[1]) == 0, cnngen_last_error());
    for (int k = 0; k < 3 * 784; ++k) images[k] = (float)((k % 784) % 29) / 29.0f;
    EXPECT(cnngen_model_logits(model, images, 3, logits) == 0, cnngen_last_error());
    for (int k = 0; k < 10; ++k) {
        EXPECT(isfinite(logits[k]), "finite logits");
        EXPECT(logits[k] == logits[10 + k] && logits[k] == logits[20 + k], "equal images, equal logits");
    }
    printf("C API: logits[0..2] = %g %g %g\n", logits[0], logits[1], logits[2]);
    cnngen_model_destroy(model);
    return 0;
}
