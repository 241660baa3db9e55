/*
 * `hermeslink devices [--json]` and `hermeslink devices revoke <device id>`: the paired devices of the running daemon
 * (its auth actor owns them, so the CLI asks it over control.sock), and revoking one: its tokens stop working at once
 * and its event streams end, as with DELETE /api/v1/devices/:id. For the person at the computer when a phone is lost or
 * a browser must be signed out.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hl/control.h"

#define CONTROL_TIMEOUT_MS 15000

static const char HELP[] = "Usage: hermeslink devices [--json]\n"
                           "       hermeslink devices revoke <device id>\n"
                           "\n"
                           "Lists the devices paired with the running Hermes Link (id, label, platform, status, last seen),\n"
                           "or revokes one: its tokens stop working at once and its open streams end; pair it again to use it.\n"
                           "  --json   print the list as JSON ({\"devices\":[…],\"summary\":{…}})\n";

static const char *text_or(json_t *j, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(j, key));
    return v != NULL && v[0] != '\0' ? v : fallback;
}

/* the daemon's answer to req, or NULL after saying on stderr why there is none (not running, error) */
static json_t *ask(const char *home, json_t *req)
{
    json_t *reply = hl_control_call(home, req, CONTROL_TIMEOUT_MS);
    json_decref(req);
    if (reply == NULL) {
        fprintf(stderr, "Hermes Link is not running (start it with: hermeslink start)\n");
        return NULL;
    }
    if (!json_is_true(json_object_get(reply, "ok"))) {
        json_t *err = json_object_get(reply, "error");
        fprintf(stderr, "%s (%s)\n", text_or(err, "message", "the daemon refused"), text_or(err, "code", "error"));
        json_decref(reply);
        return NULL;
    }
    return reply;
}

static int list(const char *home, int as_json)
{
    json_t *reply = ask(home, json_pack("{s:s}", "cmd", "devices"));
    if (reply == NULL)
        return 1;
    if (as_json) {
        json_object_del(reply, "ok");
        json_object_del(reply, "current_device_id");
        char *text = json_dumps(reply, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
        json_decref(reply);
        return 0;
    }
    json_t *devs = json_object_get(reply, "devices");
    if (json_array_size(devs) == 0) {
        printf("No paired devices. Pair one with: hermeslink pair\n");
    } else {
        printf("%-24s  %-24s  %-10s  %-8s  %s\n", "ID", "LABEL", "PLATFORM", "STATUS", "LAST SEEN");
        size_t i;
        json_t *d;
        json_array_foreach(devs, i, d)
        {
            /* labels come from the devices themselves: printed within their column, control characters never reach here
             * (the daemon stores labels trimmed and validated) */
            printf("%-24s  %-24.24s  %-10.10s  %-8s  %s\n", text_or(d, "id", "?"), text_or(d, "label", "-"),
                   text_or(d, "platform", "-"), text_or(d, "status", "?"), text_or(d, "last_seen_at", "never"));
        }
    }
    json_t *sum = json_object_get(reply, "summary");
    printf("%lld devices: %lld active, %lld revoked\n", (long long)json_integer_value(json_object_get(sum, "total")),
           (long long)json_integer_value(json_object_get(sum, "active")),
           (long long)json_integer_value(json_object_get(sum, "revoked")));
    json_decref(reply);
    return 0;
}

static int revoke(const char *home, const char *id)
{
    json_t *reply = ask(home, json_pack("{s:s, s:s}", "cmd", "devices_revoke", "device_id", id));
    if (reply == NULL)
        return 1;
    json_t *dev = json_object_get(reply, "device");
    printf("Device %s (%s) revoked\n", text_or(dev, "id", id), text_or(dev, "label", "no label"));
    json_decref(reply);
    return 0;
}

int hl_cmd_devices(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(HELP, stdout);
        return 0;
    }
    int as_json = 0;
    const char *revoke_id = NULL;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (strcmp(argv[i], "revoke") == 0 && i == 1 && i + 1 < argc && argv[i + 1][0] != '-')
            revoke_id = argv[++i];
        else
            return hl_cli_reject(argv[i], HELP);
    }
    if (revoke_id != NULL && as_json)
        return hl_cli_reject("--json", HELP);
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    int ret = revoke_id != NULL ? revoke(home, revoke_id) : list(home, as_json);
    free(home);
    return ret;
}
