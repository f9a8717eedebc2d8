# kiln_add_model(<target> MODEL <file.json> [NAME n] [TARGET triple] [CPU c] [FEATURES f]
#                [OPTIONS ...])
# Compiles a Kiln model at build time into a static library <target> holding the model object;
# linking <target> puts the generated header <NAME>.h on the include path. NAME (default:
# <target>) prefixes every symbol. TARGET/CPU/FEATURES select the code generator (default: the
# host); OPTIONS go to `kiln compile` as they are (e.g. -O3, --weights-section .kiln_weights).
# The object is rebuilt when the JSON or any weights file it references changes (the references
# are read at configure time; editing the JSON re-runs the configure step).
# With OPTIONS --weights=external the weights file is an output too; its path is the target's
# KILN_WEIGHTS_FILE property.
function(kiln_add_model target)
  cmake_parse_arguments(PARSE_ARGV 1 KAM "" "MODEL;NAME;TARGET;CPU;FEATURES" "OPTIONS")
  if(KAM_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kiln_add_model(${target}): unknown arguments ${KAM_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT KAM_MODEL)
    message(FATAL_ERROR "kiln_add_model(${target}): MODEL <file.json> is required")
  endif()
  get_filename_component(model "${KAM_MODEL}" ABSOLUTE)
  if(NOT EXISTS "${model}")
    message(FATAL_ERROR "kiln_add_model(${target}): model file '${model}' does not exist")
  endif()
  if(NOT KAM_NAME)
    set(KAM_NAME ${target})
  endif()
  get_filename_component(model_dir "${model}" DIRECTORY)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/kiln_models/${target}")
  file(MAKE_DIRECTORY "${dir}")

  # Weights files: every "external": {"path": ...} of the model, relative to its directory.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${model}")
  file(READ "${model}" json)
  string(REGEX MATCHALL "\"path\"[ \t\r\n]*:[ \t\r\n]*\"[^\"]*\"" refs "${json}")
  set(deps "${model}")
  foreach(ref IN LISTS refs)
    string(REGEX REPLACE "^\"path\"[ \t\r\n]*:[ \t\r\n]*\"([^\"]*)\"$" "\\1" path "${ref}")
    get_filename_component(path "${path}" ABSOLUTE BASE_DIR "${model_dir}")
    list(APPEND deps "${path}")
  endforeach()
  list(REMOVE_DUPLICATES deps)

  set(args --name ${KAM_NAME})
  if(KAM_TARGET)
    list(APPEND args --target ${KAM_TARGET})
  endif()
  if(KAM_CPU)
    list(APPEND args --cpu ${KAM_CPU})
  endif()
  if(KAM_FEATURES)
    list(APPEND args --features ${KAM_FEATURES})
  endif()
  set(obj "${dir}/${KAM_NAME}${CMAKE_C_OUTPUT_EXTENSION}")
  if(NOT CMAKE_C_OUTPUT_EXTENSION)
    set(obj "${dir}/${KAM_NAME}.o")
  endif()
  set(outputs "${obj}" "${dir}/${KAM_NAME}.h")
  if("--weights=external" IN_LIST KAM_OPTIONS)
    list(APPEND args --weights-file "${dir}/${KAM_NAME}.weights")
    list(APPEND outputs "${dir}/${KAM_NAME}.weights")
  endif()
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND Kiln::kiln compile "${model}" -o "${obj}" --header "${dir}/${KAM_NAME}.h" ${args}
            ${KAM_OPTIONS}
    DEPENDS ${deps} "$<TARGET_FILE:Kiln::kiln>"
    COMMENT "Kiln: compiling model ${KAM_NAME} from ${model}"
    VERBATIM)
  add_library(${target} STATIC "${obj}" "${dir}/${KAM_NAME}.h")
  set_target_properties(${target} PROPERTIES LINKER_LANGUAGE C)
  if("--weights=external" IN_LIST KAM_OPTIONS)
    set_target_properties(${target} PROPERTIES KILN_WEIGHTS_FILE "${dir}/${KAM_NAME}.weights")
  endif()
  target_include_directories(${target} INTERFACE "${dir}")
  if(KAM_TARGET)
    target_link_libraries(${target} INTERFACE Kiln::headers)
  else()
    target_link_libraries(${target} INTERFACE Kiln::rt)
  endif()
endfunction()
