/*
 * The text of the autostart files (hl/autostart.h). Each format has its own quoting: systemd's (C escapes, '%' specifiers,
 * '$' variables in ExecStart), the desktop entry's (an argument quoted for the Exec key, then escaped again as a string
 * value, '%' field codes), the plist's XML. Paths with control characters are refused rather than escaped.
 */
#include <stdlib.h>
#include <string.h>

#include "hl/autostart.h"

typedef struct st_buf_t {
    char *s;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = hl_realloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void puts_(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static int valid_path(const char *p)
{
    if (p == NULL || p[0] != '/')
        return 0;
    for (const unsigned char *c = (const unsigned char *)p; *c != '\0'; ++c)
        if (*c < 0x20 || *c == 0x7f)
            return 0;
    return 1;
}

/* systemd: inside double quotes '\\' and '"' are escaped; '%' is a specifier everywhere; '$' a variable in Exec lines */
static void put_systemd(buf_t *b, const char *s, int exec)
{
    puts_(b, "\"");
    for (; *s != '\0'; ++s) {
        if (*s == '\\' || *s == '"')
            put(b, "\\", 1);
        else if (*s == '%')
            put(b, "%", 1);
        else if (*s == '$' && exec)
            put(b, "$", 1);
        put(b, s, 1);
    }
    puts_(b, "\"");
}

char *hl_autostart_unit_text(const char *exe, const char *home)
{
    if (!valid_path(exe) || !valid_path(home))
        return NULL;
    buf_t b = {0};
    puts_(&b, "[Unit]\n"
              "Description=Hermes Link\n"
              "After=network-online.target\n"
              "\n"
              "[Service]\n"
              "Type=notify\n"
              "ExecStart=");
    put_systemd(&b, exe, 1);
    puts_(&b, " run\nEnvironment=");
    char *env = hl_asprintf("HERMESLINK_HOME=%s", home);
    put_systemd(&b, env, 0);
    free(env);
    puts_(&b, "\n"
              "Restart=on-failure\n"
              "RestartSec=2\n"
              "\n"
              "[Install]\n"
              "WantedBy=default.target\n");
    return b.s;
}

/* desktop entry Exec: a quoted argument escapes '"', '`', '$' and '\\'; the key's value then escapes '\\' again; '%' is a
 * field code */
static void put_desktop(buf_t *b, const char *s)
{
    puts_(b, "\"");
    for (; *s != '\0'; ++s) {
        if (*s == '"' || *s == '`' || *s == '$')
            puts_(b, "\\\\");
        else if (*s == '\\')
            puts_(b, "\\\\\\");
        else if (*s == '%')
            put(b, "%", 1);
        put(b, s, 1);
    }
    puts_(b, "\"");
}

char *hl_autostart_desktop_text(const char *exe, const char *home)
{
    if (!valid_path(exe) || !valid_path(home))
        return NULL;
    buf_t b = {0};
    puts_(&b, "[Desktop Entry]\n"
              "Type=Application\n"
              "Name=Hermes Link\n"
              "Comment=Local service for Hermes Agent\n"
              "Exec=env ");
    char *env = hl_asprintf("HERMESLINK_HOME=%s", home);
    put_desktop(&b, env);
    free(env);
    puts_(&b, " ");
    put_desktop(&b, exe);
    puts_(&b, " run\n"
              "Terminal=false\n"
              "X-GNOME-Autostart-enabled=true\n");
    return b.s;
}

static void put_xml(buf_t *b, const char *s)
{
    for (; *s != '\0'; ++s) {
        switch (*s) {
        case '&':
            puts_(b, "&amp;");
            break;
        case '<':
            puts_(b, "&lt;");
            break;
        case '>':
            puts_(b, "&gt;");
            break;
        case '"':
            puts_(b, "&quot;");
            break;
        case '\'':
            puts_(b, "&apos;");
            break;
        default:
            put(b, s, 1);
        }
    }
}

char *hl_autostart_plist_text(const char *exe, const char *home)
{
    if (!valid_path(exe) || !valid_path(home))
        return NULL;
    buf_t b = {0};
    puts_(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
              "<plist version=\"1.0\">\n"
              "<dict>\n"
              "  <key>Label</key>\n"
              "  <string>com.hermes.link</string>\n"
              "  <key>ProgramArguments</key>\n"
              "  <array>\n"
              "    <string>");
    put_xml(&b, exe);
    puts_(&b, "</string>\n"
              "    <string>run</string>\n"
              "  </array>\n"
              "  <key>EnvironmentVariables</key>\n"
              "  <dict>\n"
              "    <key>HERMESLINK_HOME</key>\n"
              "    <string>");
    put_xml(&b, home);
    puts_(&b, "</string>\n"
              "  </dict>\n"
              "  <key>RunAtLoad</key>\n"
              "  <true/>\n"
              "  <key>KeepAlive</key>\n"
              "  <false/>\n"
              "</dict>\n"
              "</plist>\n");
    return b.s;
}
