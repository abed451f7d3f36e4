module @batch_check attributes {jax.uses_shape_polymorphism = true, mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<i32> {jax.global_constant = "_platform_index"}, %arg1: tensor<?x4x7xf32>, %arg2: tensor<?x5x7xf32>) -> tensor<i32> {
    %b0 = stablehlo.get_dimension_size %arg1, dim = 0 : (tensor<?x4x7xf32>) -> tensor<i32>
    %b1 = stablehlo.get_dimension_size %arg2, dim = 0 : (tensor<?x5x7xf32>) -> tensor<i32>
    %eq1 = stablehlo.compare EQ, %b0, %b1, SIGNED : (tensor<i32>, tensor<i32>) -> tensor<i1>
    stablehlo.custom_call @shape_assertion(%eq1, %b1, %b0) {api_version = 2 : i32, error_message = "am has batch size {0} but lm has batch size {1}", has_side_effect = true} : (tensor<i1>, tensor<i32>, tensor<i32>) -> ()
    return %b0 : tensor<i32>
  }
}
