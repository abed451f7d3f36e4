module @ffi_xla_rnnt_gather_symbols_grad attributes {jax.uses_shape_polymorphism = true, mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<i32> {jax.global_constant = "_platform_index"}, %arg1: tensor<?x5x7xf32>, %arg2: tensor<?x3xi32>, %arg3: tensor<?x3x5xf32>) -> (tensor<?x5x7xf32>, tensor<?x3xf32>) {
    %0 = stablehlo.get_dimension_size %arg1, dim = 0 : (tensor<?x5x7xf32>) -> tensor<i32>
    %1 = stablehlo.reshape %0 : (tensor<i32>) -> tensor<1xi32>
    %2 = stablehlo.constant dense<5> : tensor<1xi32>
    %3 = stablehlo.constant dense<7> : tensor<1xi32>
    %4 = stablehlo.concatenate %1, %2, %3, dim = 0 : (tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> tensor<3xi32>
    %5 = stablehlo.reshape %0 : (tensor<i32>) -> tensor<1xi32>
    %6 = stablehlo.constant dense<3> : tensor<1xi32>
    %7 = stablehlo.concatenate %5, %6, dim = 0 : (tensor<1xi32>, tensor<1xi32>) -> tensor<2xi32>
    %8:2 = stablehlo.custom_call @xla_rnnt_gather_symbols_grad(%arg1, %arg2, %arg3, %4, %7) {api_version = 4 : i32, backend_config = {}, indices_of_shape_operands = dense<[3, 4]> : tensor<2xi64>, operand_layouts = [dense<[2, 1, 0]> : tensor<3xindex>, dense<[1, 0]> : tensor<2xindex>, dense<[2, 1, 0]> : tensor<3xindex>, dense<[0]> : tensor<1xindex>, dense<[0]> : tensor<1xindex>], result_layouts = [dense<[2, 1, 0]> : tensor<3xindex>, dense<[1, 0]> : tensor<2xindex>]} : (tensor<?x5x7xf32>, tensor<?x3xi32>, tensor<?x3x5xf32>, tensor<3xi32>, tensor<2xi32>) -> (tensor<?x5x7xf32>, tensor<?x3xf32>)
    return %8#0, %8#1 : tensor<?x5x7xf32>, tensor<?x3xf32>
  }
}
