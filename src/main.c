#include "../src/cli/cli.h"
#include "hl/daemon.h"

int main(int argc, char **argv)
{
    return hl_cli_main(argc, argv, hl_daemon_run);
}
