# Kiln's CMake package: find_package(Kiln) from an installed tree (relocatable).
#   Kiln::kiln     the compiler (a host executable)
#   Kiln::headers  krt.h / krt_npy.h include directory (any target)
#   Kiln::rt       libkiln_rt.a for the host (krt_strerror); cross builds compile
#                  ${KILN_RUNTIME_SOURCE} with their own compiler instead
#   Kiln::npy      libkiln_npy.a: .npy reading and writing for host programs
#   kiln_add_model(<target> MODEL <file.json> [NAME n] [TARGET triple] [CPU c] [FEATURES f]
#                  [OPTIONS ...])   (KilnModel.cmake)
# KILN_BAREMETAL_DIR holds startup_cm.c and mps2.ld for QEMU's Cortex-M boards.
get_filename_component(_kiln_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET Kiln::kiln)
  add_executable(Kiln::kiln IMPORTED)
  set_target_properties(Kiln::kiln PROPERTIES IMPORTED_LOCATION "${_kiln_prefix}/bin/kiln")
  add_library(Kiln::headers INTERFACE IMPORTED)
  set_target_properties(Kiln::headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_kiln_prefix}/include/kiln")
  add_library(Kiln::rt STATIC IMPORTED)
  set_target_properties(Kiln::rt PROPERTIES
    IMPORTED_LOCATION "${_kiln_prefix}/lib/libkiln_rt.a"
    INTERFACE_LINK_LIBRARIES Kiln::headers)
  add_library(Kiln::npy STATIC IMPORTED)
  set_target_properties(Kiln::npy PROPERTIES
    IMPORTED_LOCATION "${_kiln_prefix}/lib/libkiln_npy.a"
    INTERFACE_LINK_LIBRARIES "Kiln::rt")
endif()
set(KILN_EXECUTABLE "${_kiln_prefix}/bin/kiln")
set(KILN_RUNTIME_SOURCE "${_kiln_prefix}/share/kiln/runtime/krt.c")
set(KILN_BAREMETAL_DIR "${_kiln_prefix}/share/kiln/baremetal")
include("${CMAKE_CURRENT_LIST_DIR}/KilnModel.cmake")
unset(_kiln_prefix)
