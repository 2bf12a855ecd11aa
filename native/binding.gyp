# Builds native/build/Release/polyapprox_blas.node against the system OpenBLAS + LAPACKE.
# Normally run through scripts/build-native.mjs, which locates the headers and libraries and passes
#   -Dblas_include_dirs="<dir> ..."  -Dblas_ldflags="-L<dir> -Wl,-rpath,<dir> ..."
# (both empty when everything is on the compiler's and linker's default search paths).
{
  "variables": {
    "blas_include_dirs%": "",
    "blas_ldflags%": "",
    "blas_libraries%": "-lopenblas -llapacke",
  },
  "targets": [
    {
      "target_name": "polyapprox_blas",
      "sources": ["src/binding.c", "src/validate.c", "src/kernels.c"],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["<@(blas_include_dirs)"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": [
        "<@(blas_ldflags)",
        # Bind every symbol at load time, so a library lacking a LAPACKE routine fails the build
        # script's load check instead of crashing at the first call.
        "-Wl,-z,now",
      ],
      "libraries": ["<@(blas_libraries)"],
    }
  ]
}
