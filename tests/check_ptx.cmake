# Checks that each CUDA library listed in LIBRARIES (|-separated) embeds PTX for sm_80.
string(REPLACE "|" ";" libraries "${LIBRARIES}")
foreach(library IN LISTS libraries)
  file(STRINGS "${library}" ptx_lines REGEX "\\.target[ \t]+sm_80" LIMIT_COUNT 1)
  if(NOT ptx_lines)
    message(FATAL_ERROR "${library}: no embedded PTX for sm_80 found")
  endif()
  message(STATUS "${library}: ${ptx_lines}")
endforeach()
