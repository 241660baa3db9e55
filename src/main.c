#include "../src/cli/cli.h"

int main(int argc, char **argv)
{
    return hl_cli_main(argc, argv);
}
