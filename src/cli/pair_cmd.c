/*
 * pair [--web] [--json]: creates a pairing session on the running daemon (starting it first when needed) and prints the
 * QR code, the pairing page URLs, the session id and the connect token (spec/CLI.md §2.5, the order); with --web
 * also a second QR code and the URL that open the web client on a phone already holding the session (web_client_url).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "hl/common.h"
#include "hl/control.h"
#include "hl/pidfile.h"
#include "hl/qr.h"

static const char HELP[] = "Usage: hermeslink pair [--web] [--json]\n"
                           "\n"
                           "Create a pairing session (valid 5 minutes) and print its QR code, the pairing page URLs, the\n"
                           "session id and the one-time connect token. Starts the daemon first when it is not running.\n"
                           "  --web    also print a second QR code and the URL (\"Web client:\") that open the web client\n"
                           "           on a phone, signed in (publicUrl, else the first LAN address)\n"
                           "  --json   print {\"qr_payload\",\"pairing_page_urls\",\"web_client_url\",\"session_id\",\n"
                           "           \"connect_token\",\"expires_at\"}\n";

#define LABEL_WIDTH 17

/* QR lines this wide never wrap on the classic 80-column terminal, which is what to aim for when the width is unknown */
#define DEFAULT_COLUMNS 80

/* The width of the terminal stdout draws on: the window's (TIOCGWINSZ) on a TTY, else $COLUMNS when it is a number,
 * else 0 (unknown: output piped into a file or a pager, where nothing wraps). */
static int output_columns(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *env = getenv("COLUMNS");
    long cols;
    if (env != NULL && hl_parse_long(env, 1, 10000, &cols) == 0)
        return (int)cols;
    return 0;
}

/* The QR code, or one line saying why not (ending with `instead`, what to use then): a code wider than the terminal
 * wraps into something no phone can read. */
static void print_qr(const char *payload_text, const char *instead)
{
    int cols = output_columns(), width = 0;
    char *qr = payload_text != NULL ? hl_qr_terminal_fit(payload_text, cols > 0 ? cols : DEFAULT_COLUMNS, &width) : NULL;
    if (qr == NULL && cols <= 0 && width > 0) /* width unknown and nothing fits 80 columns: print it anyway, unchecked */
        qr = hl_qr_terminal_fit(payload_text, 0, &width);
    if (qr != NULL)
        printf("\n%s\n", qr);
    else if (width > 0)
        printf("\nThe QR code needs a terminal %d columns wide (this one has %d): widen it and run hermeslink pair again, "
               "or %s below.\n\n",
               width, cols, instead);
    else
        printf("\nThe pairing data is too large for a QR code: %s below.\n\n", instead);
    free(qr);
}

static void print_text(json_t *r, int web)
{
    json_t *payload = json_object_get(r, "qr_payload");
    char *payload_text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    print_qr(payload_text, "open a pairing page");
    free(payload_text);
    json_t *pages = json_object_get(r, "pairing_page_urls");
    size_t i;
    json_t *u;
    json_array_foreach(pages, i, u) printf("%-*s%s\n", LABEL_WIDTH, i == 0 ? "Pairing page:" : "", json_string_value(u));
    const char *sid = json_string_value(json_object_get(r, "session_id"));
    const char *token = json_string_value(json_object_get(r, "connect_token"));
    printf("%-*s%s\n", LABEL_WIDTH, "Session ID:", sid);
    printf("%-*s%s\n", LABEL_WIDTH, "Connect token:", token);
    printf("%-*s%s\n", LABEL_WIDTH, "Expires:", json_string_value(json_object_get(r, "expires_at")));
    const char *base = json_string_value(json_array_get(json_object_get(payload, "preferred_urls"), 0));
    printf("\nAfter scanning the QR code the app completes pairing with:\n");
    printf("  POST %s/api/v1/pairing/claim\n", base != NULL ? base : "http://127.0.0.1:18642");
    printf("  Body: { \"session_id\": \"%s\", \"claim_token\": \"<code>\" }\n", sid);
    printf("A script can instead call POST /api/v1/auth/device-session with \"Authorization: Bearer <connect token>\".\n");
    const char *url = json_string_value(json_object_get(r, "web_client_url"));
    if (web && url != NULL) {
        printf("\nOr scan this QR code with the phone's camera to open the web client, signed in:\n");
        print_qr(url, "open the web client URL");
        printf("%-*s%s\n", LABEL_WIDTH, "Web client:", url);
    }
}

int hl_cmd_pair(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(HELP, stdout);
        return 0;
    }
    int as_json = 0, web = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--web") == 0) {
            web = 1;
        } else {
            return hl_cli_reject(argv[i], HELP);
        }
    }
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    int rc = 1;
    pid_t pid;
    if (hl_pidfile_probe(home, &pid) != HL_PID_RUNNING) {
        fprintf(as_json ? stderr : stdout, "Hermes Link is not running; starting it first.\n");
        if (hl_cli_start_daemon(home, as_json) != 0)
            goto Exit;
    }
    json_t *req = json_pack("{s:s}", "cmd", "pair");
    json_t *r = hl_control_call(home, req, 15000);
    json_decref(req);
    if (r == NULL || !json_is_true(json_object_get(r, "ok")) || json_object_get(r, "session_id") == NULL) {
        const char *msg = r != NULL ? json_string_value(json_object_get(json_object_get(r, "error"), "message")) : NULL;
        fprintf(stderr, "Cannot create a pairing session: %s\n", msg != NULL ? msg : "the daemon did not answer");
        json_decref(r);
        goto Exit;
    }
    if (as_json) {
        json_object_del(r, "ok");
        char *text = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        free(text);
    } else {
        print_text(r, web);
    }
    json_decref(r);
    rc = 0;
Exit:
    free(home);
    return rc;
}
