/*
 * Request bodies past JSON parsing: the validators routes hand their parsed body to, without the actors behind them.
 * Input: byte 0 picks the body, the rest is its JSON text (json_loadb, as the dispatcher parses a JSON route's body):
 *   0  a device descriptor (pairing claim, device-session: hl_device_descriptor_from_json);
 *   1  POST …/model-configs (hl_model_input_parse);
 *   2  PATCH …/permissions (hermes_permissions_plan) against a fixed config.yaml, whose planned edits are then applied
 *      (hermes_edits_apply): a body the plan accepts must give a config.yaml that still loads.
 * Checks: a parsed model input has its required fields, a refusal a message; an accepted permissions change applies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hermes_config_edits.h"
#include "hermes_internal.h"
#include "hermes_settings.h"
#include "hl/auth.h"
#include "hl/hermes_models.h"
#include "hl/reply.h"

static const char CONFIG[] = "model:\n"
                             "  default: anthropic/claude-sonnet-4\n"
                             "approvals:\n"
                             "  mode: manual   # manual | smart | off\n"
                             "  timeout: 60\n"
                             "terminal:\n"
                             "  backend: local\n"
                             "platform_toolsets:\n"
                             "  api_server:\n"
                             "  - web\n"
                             "  - terminal\n"
                             "  cli: [hermes-cli]\n"
                             "stt:\n"
                             "  enabled: true\n";

static void device(json_t *body)
{
    hl_device_descriptor_t d;
    memset(&d, 0, sizeof(d));
    hl_device_descriptor_from_json(&d, body);
    hl_device_descriptor_dispose(&d);
}

static void model(json_t *body)
{
    hl_model_input_t in;
    memset(&in, 0, sizeof(in));
    const char *message = NULL;
    int ret = hl_model_input_parse(&in, body, &message);
    if (ret == 0 && (in.id == NULL || in.provider == NULL || in.base_url == NULL || in.id[0] == '\0'))
        abort();
    if (ret != 0 && (ret > 0 || message == NULL))
        abort();
    hl_model_input_dispose(&in);
}

static void permissions(json_t *body)
{
    static json_t *config;
    if (config == NULL) {
        char err[256];
        if (hermes_yaml_json(CONFIG, strlen(CONFIG), &config, err, sizeof(err)) != 0)
            abort();
    }
    hermes_edits_t edits;
    memset(&edits, 0, sizeof(edits));
    hl_result_t *res = hermes_permissions_plan(body, config, &edits);
    if (res == NULL) {
        char *out = NULL, err[256] = "";
        size_t out_len = 0;
        if (hermes_edits_apply(&edits, CONFIG, strlen(CONFIG), &out, &out_len, err, sizeof(err)) != 0)
            abort(); /* an accepted change that config.yaml's editor cannot make */
        json_t *again = NULL;
        if (hermes_yaml_json(out, out_len, &again, err, sizeof(err)) != 0)
            abort();
        json_decref(again);
        free(out);
    } else {
        hl_result_free(res);
    }
    hermes_edits_dispose(&edits);
}

/** libFuzzer's entry: selector byte, then a JSON body. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    json_t *body = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (body == NULL)
        return 0;
    switch (data[0] % 3) {
    case 0:
        device(body);
        break;
    case 1:
        model(body);
        break;
    default:
        permissions(body);
        break;
    }
    json_decref(body);
    return 0;
}
