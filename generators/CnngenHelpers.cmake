# cnngen_add_model(<target> SPEC <file> [SCHEDULE <name or file.toml>] [HALIDE_TARGET <t>] [NAME <n>] [EXECUTABLE]
#                  [INFERENCE_ONLY] [TRAIN_STEP fused|chained] [BATCH_SIZES b...] [TRAIN_BATCH b]
#                  [DATA_PARALLEL])
#
# Generates a model library at build time with `cnngen build` and defines:
#   <target>                 the static library (include its header <NAME>.h)
#   <target>.halide_runtime  the Halide runtime for HALIDE_TARGET: link exactly one per program
#   <target>.dir             property CNNGEN_OUTPUT_DIR on <target>: where everything was written
# Like Halide's add_halide_library, but for a whole model spec. NAME defaults to <target>.
# HALIDE_TARGET may list several targets, best first ("x86-64-linux-avx2-fma,x86-64-linux"):
# one library that picks at run time. INFERENCE_ONLY leaves out the training step; TRAIN_STEP
# chained makes it per-layer kernels the runtime calls in turn instead of one pipeline.
# DATA_PARALLEL adds the split training step (gradients, then the update) and, with EXECUTABLE,
# an executable that trains over the processes of `mpirun` (cnngen built with MPI support).
function(cnngen_add_model target)
  cmake_parse_arguments(ARG "EXECUTABLE;INFERENCE_ONLY;DATA_PARALLEL" "SPEC;SCHEDULE;HALIDE_TARGET;NAME;TRAIN_STEP;TRAIN_BATCH"
                        "BATCH_SIZES" ${ARGN})
  if(NOT ARG_SPEC)
    message(FATAL_ERROR "cnngen_add_model(${target}): SPEC is required")
  endif()
  foreach(pair "SCHEDULE;cpu" "HALIDE_TARGET;host" "NAME;${target}")
    list(GET pair 0 key)
    list(GET pair 1 default)
    if(NOT ARG_${key})
      set(ARG_${key} ${default})
    endif()
  endforeach()
  get_filename_component(spec "${ARG_SPEC}" ABSOLUTE)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${target}.generated")
  set(library "${dir}/lib${ARG_NAME}.a")
  set(runtime "${dir}/lib${ARG_NAME}_halide_runtime.a")
  set(outputs "${library}" "${runtime}" "${dir}/${ARG_NAME}.h")
  set(executable_flag --no-executable)
  if(ARG_EXECUTABLE)
    # Not listed as an output: a file named like a target would make CMake see a cycle.
    set(executable_flag "")
  endif()
  set(training_flag "")
  if(ARG_INFERENCE_ONLY)
    set(training_flag --inference-only)
  elseif(ARG_TRAIN_STEP)
    set(training_flag --train-step ${ARG_TRAIN_STEP})
  endif()
  if(NOT ARG_DATA_PARALLEL)
    list(APPEND training_flag --no-mpi)
  endif()
  set(batch_flags "")
  if(ARG_BATCH_SIZES)
    string(REPLACE ";" "," batch_list "${ARG_BATCH_SIZES}")
    list(APPEND batch_flags --batch-sizes ${batch_list})
  endif()
  if(ARG_TRAIN_BATCH)
    list(APPEND batch_flags --train-batch ${ARG_TRAIN_BATCH})
  endif()
  # SCHEDULE is a built-in name or a schedule file, which then is a dependency too.
  set(schedule ${ARG_SCHEDULE})
  set(schedule_file "")
  if(ARG_SCHEDULE MATCHES "\\.toml$")
    get_filename_component(schedule "${ARG_SCHEDULE}" ABSOLUTE)
    set(schedule_file "${schedule}")
  endif()
  if(TARGET cnngen)
    set(tool_dependencies cnngen_runtime)
    if(TARGET cnngen_mpi)
      list(APPEND tool_dependencies cnngen_mpi)
    endif()
    if(CNNGEN_GENERATOR)
      # Another build's cnngen, linking with this build's runtime and flags (CMakeLists.txt says why).
      set(cnngen_tool ${CMAKE_COMMAND} -E env ${CNNGEN_GENERATOR_ENVIRONMENT} "${CNNGEN_GENERATOR}")
      list(APPEND tool_dependencies "${CNNGEN_GENERATOR}")
    else()
      set(cnngen_tool $<TARGET_FILE:cnngen>)
      list(APPEND tool_dependencies cnngen)
    endif()
  else()
    set(cnngen_tool cnngen::cnngen)
    set(tool_dependencies cnngen::cnngen)
  endif()
  # --jobs 1: the build tool runs as many generations at once as it runs jobs (as with Halide's
  # add_halide_library); cnngen's own processes on top would multiply them.
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${cnngen_tool} build "${spec}" --target ${ARG_HALIDE_TARGET} --schedule "${schedule}"
            --name ${ARG_NAME} -o "${dir}" --jobs 1 ${executable_flag} ${training_flag} ${batch_flags}
    DEPENDS ${tool_dependencies} "${spec}" ${schedule_file}
    COMMENT "cnngen: generating ${ARG_NAME} (${ARG_SCHEDULE}, ${ARG_HALIDE_TARGET})"
    VERBATIM)
  add_custom_target(${target}.generate DEPENDS ${outputs})
  file(MAKE_DIRECTORY "${dir}")

  add_library(${target}.halide_runtime STATIC IMPORTED GLOBAL)
  set_target_properties(${target}.halide_runtime PROPERTIES IMPORTED_LOCATION "${runtime}")
  set_property(TARGET ${target}.halide_runtime PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads ${CMAKE_DL_LIBS})
  add_dependencies(${target}.halide_runtime ${target}.generate)

  add_library(${target} STATIC IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${library}" INTERFACE_INCLUDE_DIRECTORIES "${dir}"
                                             CNNGEN_OUTPUT_DIR "${dir}")
  if(TARGET cnngen_runtime)
    set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES cnngen_runtime)
  else()
    set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES cnngen::runtime)
  endif()
  add_dependencies(${target} ${target}.generate)
endfunction()
