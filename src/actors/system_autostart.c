/*
 * Autostart requests on the system actor (hl_system_autostart): the API's and the control socket's, with the CLI's own
 * (no daemon) all through hl/autostart.h. Here because systemctl may take seconds: never on a worker.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "hl/log.h"
#include "system_internal.h"

typedef struct st_autostart_task_t {
    hl_task_t super;
    hl_system_t *sys;
    hl_reply_to_t *to;
    hl_system_autostart_t action;
} autostart_task_t;

static void run_autostart(hl_task_t *base)
{
    autostart_task_t *t = (autostart_task_t *)base;
    hl_system_t *sys = t->sys;
    int ret = 0;
    if (t->action == HL_SYSTEM_AUTOSTART_ENABLE) {
        char exe[PATH_MAX];
        if ((ret = hl_autostart_self_exe(exe, sizeof(exe))) == 0)
            ret = hl_autostart_enable(exe, sys->link->home, 0, &sys->autostart);
        else
            hl_autostart_status(sys->autostart_method, &sys->autostart);
    } else if (t->action == HL_SYSTEM_AUTOSTART_DISABLE) {
        ret = hl_autostart_disable(&sys->autostart);
    } else {
        hl_autostart_status(sys->autostart_method, &sys->autostart);
    }
    if (t->action != HL_SYSTEM_AUTOSTART_SHOW) {
        if (sys->autostart.method != HL_AUTOSTART_UNSUPPORTED)
            sys->autostart_method = sys->autostart.method;
        hl_log(ret == 0 || ret == -ENOTSUP ? HL_LOG_INFO : HL_LOG_WARN,
               t->action == HL_SYSTEM_AUTOSTART_ENABLE ? "autostart enable" : "autostart disable",
               json_pack("{s:s, s:b, s:s?}", "method", hl_autostart_method_name(sys->autostart.method), "enabled",
                         sys->autostart.enabled, "error", ret != 0 ? strerror(-ret) : NULL));
        hl_system_publish(sys);
    }
    hl_reply(t->to, hl_result_ok(HL_RESULT_OK, hl_autostart_json(&sys->autostart, 1)));
    free(t);
}

void hl_system_autostart(hl_system_t *sys, hl_reply_to_t *to, hl_system_autostart_t action)
{
    autostart_task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, NULL);
    t->super.run = run_autostart;
    t->sys = sys;
    t->to = to;
    t->action = action;
    hl_actor_post(&sys->actor, &t->super.super);
}
