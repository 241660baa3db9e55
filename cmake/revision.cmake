# Sets HL_GIT_REVISION to `git describe --always --dirty` of the source tree, "unknown" outside a git checkout (a tarball,
# no git installed), and writes ${HL_REVISION_OUT} from cmake/revision.c.in only when the text changes, so that a new
# revision recompiles one file. Run at configure time (CMakeLists.txt) and again at each build (the hl_revision target).
if(NOT HL_SOURCE_DIR)
    set(HL_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR}/..)
endif()
set(HL_GIT_REVISION unknown)
find_program(HL_GIT_EXECUTABLE git)
if(HL_GIT_EXECUTABLE)
    # only the source tree's own checkout: a tarball unpacked inside some other repository is "unknown", not that one
    execute_process(COMMAND ${HL_GIT_EXECUTABLE} -C ${HL_SOURCE_DIR} rev-parse --show-toplevel
                    OUTPUT_VARIABLE _top OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
    get_filename_component(_src ${HL_SOURCE_DIR} REALPATH)
    if(_rc EQUAL 0)
        get_filename_component(_top ${_top} REALPATH)
    endif()
    if(_rc EQUAL 0 AND _top STREQUAL _src)
        execute_process(COMMAND ${HL_GIT_EXECUTABLE} -C ${HL_SOURCE_DIR} describe --always --dirty
                        OUTPUT_VARIABLE _rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
        if(_rc EQUAL 0 AND _rev MATCHES "^[A-Za-z0-9._+-]+$")
            set(HL_GIT_REVISION ${_rev})
        endif()
    endif()
endif()
configure_file(${HL_SOURCE_DIR}/cmake/revision.c.in ${HL_REVISION_OUT} @ONLY)
