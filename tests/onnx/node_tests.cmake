# ONNX's backend tests from Debian's libonnx-testdata, one ctest each (tests/onnx/run_node_test.py).
# Expressible: imported, built and run; the output must match the test's expected output.
set(onnx_node_tests
  node/test_averagepool_1d_default
  node/test_averagepool_2d_ceil
  node/test_averagepool_2d_default
  node/test_averagepool_2d_pads
  node/test_averagepool_2d_pads_count_include_pad
  node/test_averagepool_2d_precomputed_pads
  node/test_averagepool_2d_precomputed_pads_count_include_pad
  node/test_averagepool_2d_precomputed_same_upper
  node/test_averagepool_2d_precomputed_strides
  node/test_averagepool_2d_same_lower
  node/test_averagepool_2d_same_upper
  node/test_averagepool_2d_strides
  node/test_basic_conv_with_padding
  node/test_basic_conv_without_padding
  node/test_batchnorm_epsilon
  node/test_batchnorm_example
  node/test_conv_with_autopad_same
  node/test_conv_with_strides_and_asymmetric_padding
  node/test_conv_with_strides_no_padding
  node/test_conv_with_strides_padding
  node/test_elu
  node/test_hardswish
  node/test_elu_default
  node/test_gemm_alpha
  node/test_gemm_beta
  node/test_gemm_default_no_bias
  node/test_gemm_default_scalar_bias
  node/test_gemm_default_single_elem_vector_bias
  node/test_gemm_default_vector_bias
  node/test_gemm_default_zero_bias
  node/test_gemm_transposeB
  node/test_clip
  node/test_globalaveragepool
  node/test_globalaveragepool_precomputed
  node/test_globalmaxpool
  node/test_globalmaxpool_precomputed
  node/test_leakyrelu
  node/test_leakyrelu_default
  node/test_lrn
  node/test_lrn_default
  node/test_maxpool_1d_default
  node/test_maxpool_2d_ceil
  node/test_maxpool_2d_default
  node/test_maxpool_2d_dilations
  node/test_maxpool_2d_pads
  node/test_maxpool_2d_precomputed_pads
  node/test_maxpool_2d_precomputed_same_upper
  node/test_maxpool_2d_precomputed_strides
  node/test_maxpool_2d_same_lower
  node/test_maxpool_2d_same_upper
  node/test_maxpool_2d_strides
  node/test_relu
  node/test_sigmoid
  node/test_softmax_axis_1
  node/test_softmax_example
  node/test_softmax_large_number
  node/test_tanh
  pytorch-converted/test_AvgPool2d
  pytorch-converted/test_AvgPool2d_stride
  pytorch-converted/test_BatchNorm1d_3d_input_eval
  pytorch-converted/test_BatchNorm2d_eval
  pytorch-converted/test_BatchNorm2d_momentum_eval
  pytorch-converted/test_Conv1d
  pytorch-converted/test_Conv1d_dilated
  pytorch-converted/test_Conv1d_groups
  pytorch-converted/test_Conv1d_pad1
  pytorch-converted/test_Conv1d_pad1size1
  pytorch-converted/test_Conv1d_pad2
  pytorch-converted/test_Conv1d_pad2size1
  pytorch-converted/test_Conv1d_stride
  pytorch-converted/test_Conv2d
  pytorch-converted/test_Conv2d_depthwise
  pytorch-converted/test_Conv2d_depthwise_padded
  pytorch-converted/test_Conv2d_depthwise_strided
  pytorch-converted/test_Conv2d_depthwise_with_multiplier
  pytorch-converted/test_Conv2d_dilated
  pytorch-converted/test_Conv2d_groups
  pytorch-converted/test_Conv2d_groups_thnn
  pytorch-converted/test_Conv2d_no_bias
  pytorch-converted/test_Conv2d_padding
  pytorch-converted/test_Conv2d_strided
  pytorch-converted/test_ELU
  pytorch-converted/test_LeakyReLU
  pytorch-converted/test_LeakyReLU_with_negval
  pytorch-converted/test_Linear
  pytorch-converted/test_MaxPool1d
  pytorch-converted/test_MaxPool1d_stride
  pytorch-converted/test_MaxPool1d_stride_padding_dilation
  pytorch-converted/test_MaxPool2d
  pytorch-converted/test_MaxPool2d_stride_padding_dilation
  pytorch-converted/test_ReLU
  pytorch-converted/test_Sigmoid
  pytorch-converted/test_Softmax
  pytorch-converted/test_Tanh
  pytorch-converted/test_softmax_lastdim
  pytorch-operator/test_operator_conv
  pytorch-operator/test_operator_maxpool
  simple/test_single_relu_model
)
# Not expressible in cnngen: the import must fail with a clear error containing the text after "|".
set(onnx_node_tests_not_expressible
  "node/test_add|no constant operand"
  "node/test_concat_2d_axis_1|no constant operand"
  "node/test_clip_example|rank 1"
  "node/test_sum_one_input|rank 1"
  "node/test_averagepool_3d_default|has rank 5"
  "node/test_batchnorm_epsilon_training_mode|training_mode"
  "node/test_batchnorm_example_training_mode|training_mode"
  "node/test_constant_pad|Pad value"
  "node/test_dropout_default|no layer cnngen can build"
  "node/test_dropout_default_mask|its mask output"
  "node/test_dropout_default_mask_ratio|its mask output"
  "node/test_dropout_default_old|has rank 1"
  "node/test_dropout_default_ratio|no layer cnngen can build"
  "node/test_dropout_random_old|no layer cnngen can build"
  "node/test_edge_pad|element type INT32"
  "node/test_elu_example|has rank 1"
  "node/test_flatten_axis0|Flatten at axis"
  "node/test_flatten_axis1|no layer cnngen can build"
  "node/test_flatten_axis2|Flatten at axis"
  "node/test_flatten_axis3|Flatten at axis"
  "node/test_flatten_default_axis|no layer cnngen can build"
  "node/test_flatten_negative_axis1|Flatten at axis"
  "node/test_flatten_negative_axis2|Flatten at axis"
  "node/test_flatten_negative_axis3|no layer cnngen can build"
  "node/test_flatten_negative_axis4|Flatten at axis"
  "node/test_gemm_all_attributes|transA = 1"
  "node/test_gemm_default_matrix_bias|differs from row to row"
  "node/test_gemm_transposeA|transA = 1"
  "node/test_identity|no layer cnngen can build"
  "node/test_identity_opt|is not a tensor"
  "node/test_leakyrelu_example|has rank 1"
  "node/test_maxpool_3d_default|has rank 5"
  "node/test_maxpool_with_argmax_2d_precomputed_pads|its Indices output"
  "node/test_maxpool_with_argmax_2d_precomputed_strides|its Indices output"
  "node/test_reflect_pad|element type INT32"
  "node/test_reshape_allowzero_reordered|Reshape to"
  "node/test_reshape_extended_dims|Reshape to"
  "node/test_reshape_negative_dim|Reshape to"
  "node/test_reshape_negative_extended_dims|Reshape to"
  "node/test_reshape_one_dim|Reshape to"
  "node/test_reshape_reduced_dims|no layer cnngen can build"
  "node/test_reshape_reordered_all_dims|Reshape to"
  "node/test_reshape_reordered_last_dims|Reshape to"
  "node/test_reshape_zero_and_negative_dim|Reshape to"
  "node/test_reshape_zero_dim|Reshape to"
  "node/test_sigmoid_example|has rank 1"
  "node/test_softmax_axis_0|softmax over axis"
  "node/test_softmax_axis_2|softmax over axis"
  "node/test_softmax_default_axis|softmax over axis"
  "node/test_softmax_negative_axis|softmax over axis"
  "node/test_tanh_example|has rank 1"
  "node/test_training_dropout|training_mode"
  "node/test_training_dropout_default|training_mode"
  "node/test_training_dropout_default_mask|training_mode"
  "node/test_training_dropout_mask|training_mode"
  "node/test_training_dropout_zero_ratio|training_mode"
  "node/test_training_dropout_zero_ratio_mask|training_mode"
  "pytorch-converted/test_AvgPool1d|operator Unsqueeze is not supported"
  "pytorch-converted/test_AvgPool1d_stride|operator Unsqueeze is not supported"
  "pytorch-converted/test_AvgPool3d|has rank 5"
  "pytorch-converted/test_AvgPool3d_stride|has rank 5"
  "pytorch-converted/test_AvgPool3d_stride1_pad0_gpu_input|has rank 5"
  "pytorch-converted/test_BatchNorm3d_eval|has rank 5"
  "pytorch-converted/test_BatchNorm3d_momentum_eval|has rank 5"
  "pytorch-converted/test_ConstantPad2d|Pad value"
  "pytorch-converted/test_Conv3d|has rank 5"
  "pytorch-converted/test_Conv3d_dilated|has rank 5"
  "pytorch-converted/test_Conv3d_dilated_strided|has rank 5"
  "pytorch-converted/test_Conv3d_groups|has rank 5"
  "pytorch-converted/test_Conv3d_no_bias|has rank 5"
  "pytorch-converted/test_Conv3d_stride|has rank 5"
  "pytorch-converted/test_Conv3d_stride_padding|has rank 5"
  "pytorch-converted/test_Linear_no_bias|must be an initializer or a Constant"
  "pytorch-converted/test_MaxPool3d|has rank 5"
  "pytorch-converted/test_MaxPool3d_stride|has rank 5"
  "pytorch-converted/test_MaxPool3d_stride_padding|has rank 5"
  "pytorch-converted/test_ReflectionPad2d|Pad mode 'reflect'"
  "pytorch-converted/test_ReplicationPad2d|Pad mode 'edge'"
  "pytorch-converted/test_ZeroPad2d|ends the graph"
  "pytorch-converted/test_softmax_functional_dim3|softmax over axis"
  "pytorch-operator/test_operator_flatten|no layer cnngen can build"
  "pytorch-operator/test_operator_pad|Pad mode 'reflect'"
)
