/* The C interface to generated models. Each model's NAME_c.h declares
 * `const cnngen_description *NAME_description(void);`. Functions returning int give
 * 0 on success and non-zero on error, with the message in cnngen_last_error(). */
#ifndef CNNGEN_CNNGEN_H
#define CNNGEN_CNNGEN_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cnngen_description cnngen_description;
typedef struct cnngen_model cnngen_model;

cnngen_model *cnngen_model_create(const cnngen_description *description);
void cnngen_model_destroy(cnngen_model *model);
/* One NAME.npy per parameter, named by the PyTorch state_dict key. */
int cnngen_model_load_weights(cnngen_model *model, const char *dir);
/* images: count x C x H x W floats (NCHW); logits: count x classes floats. */
int cnngen_model_logits(cnngen_model *model, const float *images, int count, float *logits);
int cnngen_model_classes(const cnngen_model *model);
int cnngen_model_sample_size(const cnngen_model *model);
const char *cnngen_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
