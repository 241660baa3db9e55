# Embeds a file in the binary: cmake -DIN=<file> -DOUT=<file.c> -DNAME=<symbol> -P embed.cmake writes
#   const unsigned char <symbol>[] = {...bytes..., 0};  const size_t <symbol>_len = <bytes>;
# (no xxd needed). Run at build time by CMakeLists.txt for the API reference page (src/http/docs_page/).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR len "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}.tmp" "/* generated from ${IN} by cmake/embed.cmake: do not edit */\n#include <stddef.h>\n"
    "const unsigned char ${NAME}[] = {${bytes}0x00};\nconst size_t ${NAME}_len = ${len};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
