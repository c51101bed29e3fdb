/*
 * An emulated GPIO chip for libgpiod 1.6 (GPIO character device uAPI v1, <linux/gpio.h>),
 * as verified in docs/hardware.md §5.5:
 *   - /dev/<name> (SUBSYSTEM=gpio, so /sys/bus/gpio/devices/<name>/dev exists and
 *     libgpiod's is_gpiochip_cdev() check passes) answers GPIO_GET_CHIPINFO_IOCTL,
 *     GPIO_GET_LINEINFO_IOCTL, GPIO_GET_LINEHANDLE_IOCTL and GPIO_GET_LINEEVENT_IOCTL;
 *   - line handles are further emulated nodes (opened from inside the handler, so the fd is
 *     itself emulated; a dup() would not be) answering GPIOHANDLE_{GET,SET}_LINE_VALUES;
 *   - edge-event requests are emulated nodes too (one per event slot, opened from inside the
 *     handler the same way). umockdev backs a node added without contents with a pty in raw
 *     mode and keeps the master (umockdev_testbed_get_dev_fd), so the client's fd is the pty
 *     slave: poll() is not intercepted by the preload and goes to the real pty, and read() is
 *     forwarded to the handler, which leaves it unhandled, so the preload reads the real pty.
 *     The emulator queues an edge by writing a 16-byte struct gpioevent_data to the master.
 *     ioctl() is forwarded to the handler, which answers GPIOHANDLE_GET_LINE_VALUES_IOCTL with
 *     the line's level (inverted for an active-low request), as the kernel's lineevent_ioctl
 *     does. bm_gpiochip_set_level_silently changes the level without queuing an edge: the
 *     kernel's 16-event FIFO dropping the last edge of a bouncing contact.
 * A request on a line that is already requested fails with EBUSY, like the kernel.
 */
#define _GNU_SOURCE   /* syscall */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/gpio.h>

#define MAX_LINES 64
#define HANDLE_SLOTS 16
#define EVENT_SLOTS 16

typedef struct line_state {
    char name[32];
    char consumer[32];
    int requested;        /* by this process through a handle or event request */
    int external;         /* held by "another process" (bm_gpiochip_hold_line) */
    int output;
    int active_low;
    int value;            /* physical level */
    int slot;             /* handle slot, or -1 */
    int event_slot;       /* edge-event slot, or -1 */
} line_state;

typedef struct handle_slot {
    char devnode[96];
    int in_use;
    int fd;               /* the client's fd, opened by us inside the handler */
    dev_t fd_dev;         /* its identity, to tell it from a later fd with the same number */
    ino_t fd_ino;
    unsigned int count;
    unsigned int offsets[MAX_LINES];
} handle_slot;

typedef struct event_slot {
    char devnode[96];
    int master;           /* the pty master of the node (owned by the testbed) */
    int in_use;
    int fd;               /* the client's fd, opened by us inside the handler */
    dev_t fd_dev;
    ino_t fd_ino;
    unsigned int offset;
} event_slot;

struct bm_gpiochip {
    pthread_mutex_t lock;
    char name[32];
    char label[32];
    unsigned int num_lines;
    line_state lines[MAX_LINES];
    handle_slot slots[HANDLE_SLOTS];
    event_slot events[EVENT_SLOTS];
    UMockdevIoctlBase *chip_handler;
    UMockdevIoctlBase *handle_handler;
    UMockdevIoctlBase *event_handler;
    GArray *history;      /* bm_gpio_change */
};

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record(bm_gpiochip *c, unsigned int offset, int value)
{
    bm_gpio_change change = { offset, value, monotonic_ns() };
    g_array_append_val(c->history, change);
}

/* Whether the fd we opened for a client is still that client's: closed, or now something
 * else, means released. */
static int client_fd_gone(int fd, dev_t dev, ino_t ino)
{
    struct stat st;
    return fcntl(fd, F_GETFD) == -1 || fstat(fd, &st) != 0 || st.st_dev != dev || st.st_ino != ino;
}

/* An edge-event request ends when libgpiod close()s its fd (checked as for line handles). */
static void reap_closed_event_requests(bm_gpiochip *c)
{
    for (int s = 0; s < EVENT_SLOTS; s++) {
        event_slot *e = &c->events[s];
        if (!e->in_use || !client_fd_gone(e->fd, e->fd_dev, e->fd_ino))
            continue;
        line_state *l = &c->lines[e->offset];
        l->requested = 0;
        l->event_slot = -1;
        l->consumer[0] = '\0';
        e->in_use = 0;
    }
}

/* A line handle ends when libgpiod close()s its fd. umockdev 0.17.16 declares a
 * "client-vanished" signal but never emits it, so check the fd itself: closed, or now
 * something else, means released. */
static void reap_closed_handles(bm_gpiochip *c)
{
    for (int s = 0; s < HANDLE_SLOTS; s++) {
        handle_slot *h = &c->slots[s];
        if (!h->in_use)
            continue;
        if (!client_fd_gone(h->fd, h->fd_dev, h->fd_ino))
            continue;
        for (unsigned int i = 0; i < h->count; i++) {
            line_state *l = &c->lines[h->offsets[i]];
            l->requested = 0;
            l->slot = -1;
            l->consumer[0] = '\0';
        }
        h->in_use = 0;
        h->count = 0;
    }
}

static int line_busy(bm_gpiochip *c, unsigned int offset)
{
    return c->lines[offset].requested || c->lines[offset].external;
}

static void set_consumer(line_state *l, const char *consumer)
{
    snprintf(l->consumer, sizeof l->consumer, "%s", consumer);
}

static gboolean chip_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user)
{
    (void)handler;
    bm_gpiochip *c = user;
    gulong request = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    gboolean handled = TRUE;

    pthread_mutex_lock(&c->lock);
    reap_closed_event_requests(c);
    reap_closed_handles(c);
    switch (request) {
    case GPIO_GET_CHIPINFO_IOCTL: {
        g_autoptr(UMockdevIoctlData) d =
            umockdev_ioctl_data_resolve(arg, 0, sizeof(struct gpiochip_info), NULL);
        struct gpiochip_info *info = (struct gpiochip_info *)d->data;
        memset(info, 0, sizeof *info);
        snprintf(info->name, sizeof info->name, "%s", c->name);
        snprintf(info->label, sizeof info->label, "%s", c->label);
        info->lines = c->num_lines;
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    case GPIO_GET_LINEINFO_IOCTL: {
        g_autoptr(UMockdevIoctlData) d =
            umockdev_ioctl_data_resolve(arg, 0, sizeof(struct gpioline_info), NULL);
        struct gpioline_info *info = (struct gpioline_info *)d->data;
        if (info->line_offset >= c->num_lines) {
            umockdev_ioctl_client_complete(client, -1, EINVAL);
            break;
        }
        line_state *l = &c->lines[info->line_offset];
        info->flags = 0;
        if (line_busy(c, info->line_offset))
            info->flags |= GPIOLINE_FLAG_KERNEL;
        if (l->output)
            info->flags |= GPIOLINE_FLAG_IS_OUT;
        if (l->active_low)
            info->flags |= GPIOLINE_FLAG_ACTIVE_LOW;
        snprintf(info->name, sizeof info->name, "%s", l->name);
        snprintf(info->consumer, sizeof info->consumer, "%s",
                 line_busy(c, info->line_offset) ? l->consumer : "");
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    case GPIO_GET_LINEHANDLE_IOCTL: {
        g_autoptr(UMockdevIoctlData) d =
            umockdev_ioctl_data_resolve(arg, 0, sizeof(struct gpiohandle_request), NULL);
        struct gpiohandle_request *req = (struct gpiohandle_request *)d->data;
        if (req->lines == 0 || req->lines > GPIOHANDLES_MAX) {
            umockdev_ioctl_client_complete(client, -1, EINVAL);
            break;
        }
        int error = 0;
        for (unsigned int i = 0; i < req->lines && !error; i++) {
            if (req->lineoffsets[i] >= c->num_lines)
                error = EINVAL;
            else if (line_busy(c, req->lineoffsets[i]))
                error = EBUSY;
        }
        int slot = -1;
        for (int s = 0; s < HANDLE_SLOTS && slot < 0 && !error; s++)
            if (!c->slots[s].in_use)
                slot = s;
        if (!error && slot < 0)
            error = ENOMEM;
        if (error) {
            umockdev_ioctl_client_complete(client, -1, error);
            break;
        }
        /* Opened here, under the preload, so the new fd is itself an emulated node. */
        int fd = open(c->slots[slot].devnode, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            umockdev_ioctl_client_complete(client, -1, errno);
            break;
        }
        handle_slot *h = &c->slots[slot];
        struct stat st;
        if (fstat(fd, &st) != 0) {
            int saved = errno;
            close(fd);
            umockdev_ioctl_client_complete(client, -1, saved);
            break;
        }
        h->fd = fd;
        h->fd_dev = st.st_dev;
        h->fd_ino = st.st_ino;
        h->in_use = 1;
        h->count = req->lines;
        for (unsigned int i = 0; i < req->lines; i++) {
            unsigned int offset = req->lineoffsets[i];
            line_state *l = &c->lines[offset];
            h->offsets[i] = offset;
            l->requested = 1;
            l->slot = slot;
            l->output = (req->flags & GPIOHANDLE_REQUEST_OUTPUT) != 0;
            l->active_low = (req->flags & GPIOHANDLE_REQUEST_ACTIVE_LOW) != 0;
            set_consumer(l, req->consumer_label);
            if (l->output) {
                int logical = req->default_values[i] ? 1 : 0;
                l->value = l->active_low ? !logical : logical;
                record(c, offset, l->value);
            }
        }
        req->fd = fd;
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    case GPIO_GET_LINEEVENT_IOCTL: {
        g_autoptr(UMockdevIoctlData) d =
            umockdev_ioctl_data_resolve(arg, 0, sizeof(struct gpioevent_request), NULL);
        struct gpioevent_request *req = (struct gpioevent_request *)d->data;
        if (req->lineoffset >= c->num_lines) {
            umockdev_ioctl_client_complete(client, -1, EINVAL);
            break;
        }
        if (line_busy(c, req->lineoffset)) {
            umockdev_ioctl_client_complete(client, -1, EBUSY);
            break;
        }
        int slot = -1;
        for (int s = 0; s < EVENT_SLOTS && slot < 0; s++)
            if (!c->events[s].in_use)
                slot = s;
        if (slot < 0) {
            umockdev_ioctl_client_complete(client, -1, ENOMEM);
            break;
        }
        event_slot *e = &c->events[slot];
        /* Opened here, under the preload, so the new fd is itself an emulated node (its ioctls
         * come to event_ioctl); O_NOCTTY because it is a pty slave. */
        int fd = open(e->devnode, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            umockdev_ioctl_client_complete(client, -1, errno);
            break;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            int saved = errno;
            close(fd);
            umockdev_ioctl_client_complete(client, -1, saved);
            break;
        }
        /* Drop records a previous request left unread. A raw syscall, because ioctl() on this
         * fd is forwarded to this very thread by the preload. */
        syscall(SYS_ioctl, fd, TCFLSH, TCIFLUSH);
        e->fd = fd;
        e->fd_dev = st.st_dev;
        e->fd_ino = st.st_ino;
        e->in_use = 1;
        e->offset = req->lineoffset;
        line_state *l = &c->lines[req->lineoffset];
        l->requested = 1;
        l->output = 0;
        l->active_low = (req->handleflags & GPIOHANDLE_REQUEST_ACTIVE_LOW) != 0;
        l->event_slot = slot;
        set_consumer(l, req->consumer_label);
        req->fd = fd;
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    default:
        handled = FALSE;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return handled;
}

static handle_slot *slot_for_client(bm_gpiochip *c, UMockdevIoctlClient *client)
{
    const gchar *node = umockdev_ioctl_client_get_devnode(client);
    for (int s = 0; s < HANDLE_SLOTS; s++)
        if (node && strcmp(node, c->slots[s].devnode) == 0)
            return &c->slots[s];
    return NULL;
}

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user)
{
    (void)handler;
    bm_gpiochip *c = user;
    gulong request = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    gboolean handled = TRUE;

    pthread_mutex_lock(&c->lock);
    handle_slot *h = slot_for_client(c, client);
    if (h == NULL || !h->in_use) {
        pthread_mutex_unlock(&c->lock);
        umockdev_ioctl_client_complete(client, -1, EBADF);
        return TRUE;
    }
    switch (request) {
    case GPIOHANDLE_GET_LINE_VALUES_IOCTL: {
        g_autoptr(UMockdevIoctlData) d =
            umockdev_ioctl_data_resolve(arg, 0, sizeof(struct gpiohandle_data), NULL);
        struct gpiohandle_data *data = (struct gpiohandle_data *)d->data;
        for (unsigned int i = 0; i < h->count; i++) {
            line_state *l = &c->lines[h->offsets[i]];
            data->values[i] = (uint8_t)(l->active_low ? !l->value : l->value);
        }
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    case GPIOHANDLE_SET_LINE_VALUES_IOCTL: {
        g_autoptr(UMockdevIoctlData) d =
            umockdev_ioctl_data_resolve(arg, 0, sizeof(struct gpiohandle_data), NULL);
        struct gpiohandle_data *data = (struct gpiohandle_data *)d->data;
        int ok = 1;
        for (unsigned int i = 0; i < h->count; i++)
            if (!c->lines[h->offsets[i]].output)
                ok = 0;
        if (!ok) {
            umockdev_ioctl_client_complete(client, -1, EPERM);
            break;
        }
        for (unsigned int i = 0; i < h->count; i++) {
            line_state *l = &c->lines[h->offsets[i]];
            int logical = data->values[i] ? 1 : 0;
            int physical = l->active_low ? !logical : logical;
            if (physical != l->value) {
                l->value = physical;
                record(c, h->offsets[i], physical);
            }
        }
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    default:
        handled = FALSE;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return handled;
}

/* ioctls on an edge-event fd (lineevent_ioctl in drivers/gpio/gpiolib-cdev.c): only
 * GPIOHANDLE_GET_LINE_VALUES_IOCTL, the line's logical value in values[0]. */
static gboolean event_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user)
{
    (void)handler;
    bm_gpiochip *c = user;
    gulong request = umockdev_ioctl_client_get_request(client);
    const gchar *node = umockdev_ioctl_client_get_devnode(client);

    pthread_mutex_lock(&c->lock);
    event_slot *e = NULL;
    for (int s = 0; s < EVENT_SLOTS && e == NULL; s++)
        if (node && strcmp(node, c->events[s].devnode) == 0)
            e = &c->events[s];
    if (e == NULL || !e->in_use) {
        pthread_mutex_unlock(&c->lock);
        umockdev_ioctl_client_complete(client, -1, EBADF);
        return TRUE;
    }
    if (request == GPIOHANDLE_GET_LINE_VALUES_IOCTL) {
        g_autoptr(UMockdevIoctlData) d = umockdev_ioctl_data_resolve(
            umockdev_ioctl_client_get_arg(client), 0, sizeof(struct gpiohandle_data), NULL);
        struct gpiohandle_data *data = (struct gpiohandle_data *)d->data;
        line_state *l = &c->lines[e->offset];
        memset(data, 0, sizeof *data);
        data->values[0] = (uint8_t)(l->active_low ? !l->value : l->value);
        umockdev_ioctl_client_complete(client, 0, 0);
    } else {
        umockdev_ioctl_client_complete(client, -1, EINVAL);   /* the kernel's answer */
    }
    pthread_mutex_unlock(&c->lock);
    return TRUE;
}

static int add_node(bm_testbed *testbed, const char *syspath, const char *node,
                    const char *subsystem, unsigned int major, unsigned int minor,
                    UMockdevIoctlBase *handler, char *error, size_t error_capacity)
{
    GError *gerror = NULL;
    gchar *devnode = g_strdup_printf("/dev/%s", node);
    if (!umockdev_testbed_attach_ioctl(testbed->umockdev, devnode, handler, &gerror)) {
        bm_set_error(error, error_capacity, "attach_ioctl(%s): %s", devnode,
                     gerror ? gerror->message : "failed");
        g_clear_error(&gerror);
        g_free(devnode);
        return -1;
    }
    gchar *record = g_strdup_printf("P: %s\nN: %s\nE: SUBSYSTEM=%s\nE: DEVNAME=%s\n"
                                    "E: MAJOR=%u\nE: MINOR=%u\nA: dev=%u:%u\\n\n",
                                    syspath, node, subsystem, devnode, major, minor, major, minor);
    gboolean ok = umockdev_testbed_add_from_string(testbed->umockdev, record, &gerror);
    g_free(record);
    g_free(devnode);
    if (!ok) {
        bm_set_error(error, error_capacity, "add_from_string(%s): %s", syspath,
                     gerror ? gerror->message : "failed");
        g_clear_error(&gerror);
        return -1;
    }
    return 0;
}

bm_gpiochip *bm_gpiochip_add(bm_testbed *testbed, const char *name, const char *label,
                             unsigned int lines, char *error, size_t error_capacity)
{
    if (testbed == NULL || name == NULL || lines == 0 || lines > MAX_LINES ||
        strlen(name) >= 32 || strncmp(name, "gpiochip", 8) != 0) {
        bm_set_error(error, error_capacity,
                     "bm_gpiochip_add: name must be gpiochip<N> and lines 1..%d", MAX_LINES);
        return NULL;
    }
    unsigned int index = testbed->gpio_chips->len;
    bm_gpiochip *c = g_new0(bm_gpiochip, 1);
    pthread_mutex_init(&c->lock, NULL);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->label, sizeof c->label, "%s", label ? label : "");
    c->num_lines = lines;
    c->history = g_array_new(FALSE, TRUE, sizeof(bm_gpio_change));
    for (unsigned int i = 0; i < lines; i++) {
        snprintf(c->lines[i].name, sizeof c->lines[i].name, "line%u", i);
        c->lines[i].slot = -1;
        c->lines[i].event_slot = -1;
    }
    c->chip_handler = umockdev_ioctl_base_new();
    g_signal_connect(c->chip_handler, "handle-ioctl", G_CALLBACK(chip_ioctl), c);
    c->handle_handler = umockdev_ioctl_base_new();
    g_signal_connect(c->handle_handler, "handle-ioctl", G_CALLBACK(handle_ioctl), c);
    c->event_handler = umockdev_ioctl_base_new();
    g_signal_connect(c->event_handler, "handle-ioctl", G_CALLBACK(event_ioctl), c);

    /* Line-handle nodes: misc devices, named so they never match "gpiochip*". */
    for (unsigned int s = 0; s < HANDLE_SLOTS; s++) {
        gchar *node = g_strdup_printf("bm-gpio%u-handle%u", index, s);
        gchar *syspath = g_strdup_printf("/devices/virtual/misc/%s", node);
        snprintf(c->slots[s].devnode, sizeof c->slots[s].devnode, "/dev/%s", node);
        int rc = add_node(testbed, syspath, node, "misc", 10, 100 + index * HANDLE_SLOTS + s,
                          c->handle_handler, error, error_capacity);
        g_free(node);
        g_free(syspath);
        if (rc != 0) {
            bm_gpiochip_free(c);
            return NULL;
        }
    }
    /* Edge-event nodes: misc devices backed by a pty (added without contents). */
    for (unsigned int s = 0; s < EVENT_SLOTS; s++) {
        gchar *node = g_strdup_printf("bm-gpio%u-event%u", index, s);
        gchar *syspath = g_strdup_printf("/devices/virtual/misc/%s", node);
        event_slot *e = &c->events[s];
        snprintf(e->devnode, sizeof e->devnode, "/dev/%s", node);
        int rc = add_node(testbed, syspath, node, "misc", 10, 1100 + index * EVENT_SLOTS + s,
                          c->event_handler, error, error_capacity);
        g_free(node);
        g_free(syspath);
        e->master = rc == 0 ? umockdev_testbed_get_dev_fd(testbed->umockdev, e->devnode) : -1;
        if (rc == 0 && e->master < 0) {
            bm_set_error(error, error_capacity, "%s is not backed by a pty (umockdev_testbed_get_dev_fd)", e->devnode);
            rc = -1;
        }
        if (rc != 0) {
            bm_gpiochip_free(c);
            return NULL;
        }
    }
    gchar *syspath = g_strdup_printf("/devices/platform/gpio-sim.%u/%s", index, name);
    int rc = add_node(testbed, syspath, name, "gpio", 254, index, c->chip_handler, error,
                      error_capacity);
    g_free(syspath);
    if (rc != 0) {
        bm_gpiochip_free(c);
        return NULL;
    }
    g_ptr_array_add(testbed->gpio_chips, c);
    return c;
}

void bm_gpiochip_free(bm_gpiochip *c)
{
    if (c == NULL)
        return;
    g_clear_object(&c->chip_handler);
    g_clear_object(&c->handle_handler);
    g_clear_object(&c->event_handler);
    g_array_unref(c->history);
    pthread_mutex_destroy(&c->lock);
    g_free(c);
}

int bm_gpiochip_set_line_name(bm_gpiochip *c, unsigned int offset, const char *name)
{
    if (offset >= c->num_lines || name == NULL)
        return -1;
    pthread_mutex_lock(&c->lock);
    snprintf(c->lines[offset].name, sizeof c->lines[offset].name, "%s", name);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int bm_gpiochip_hold_line(bm_gpiochip *c, unsigned int offset, const char *consumer)
{
    if (offset >= c->num_lines)
        return -1;
    pthread_mutex_lock(&c->lock);
    reap_closed_event_requests(c);
    reap_closed_handles(c);
    int rc = -1;
    if (!line_busy(c, offset)) {
        c->lines[offset].external = 1;
        set_consumer(&c->lines[offset], consumer ? consumer : "");
        rc = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int bm_gpiochip_inject_edge(bm_gpiochip *c, unsigned int offset, int rising, uint64_t timestamp_ns)
{
    if (offset >= c->num_lines)
        return -1;
    pthread_mutex_lock(&c->lock);
    reap_closed_event_requests(c);
    reap_closed_handles(c);
    line_state *l = &c->lines[offset];
    int rc = -1;
    if (l->event_slot >= 0) {
        struct gpioevent_data event;
        memset(&event, 0, sizeof event);
        event.timestamp = timestamp_ns ? timestamp_ns : monotonic_ns();
        event.id = rising ? GPIOEVENT_EVENT_RISING_EDGE : GPIOEVENT_EVENT_FALLING_EDGE;
        l->value = l->active_low ? !rising : rising;
        if (write(c->events[l->event_slot].master, &event, sizeof event) == (ssize_t)sizeof event)
            rc = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int bm_gpiochip_set_input(bm_gpiochip *c, unsigned int offset, int value)
{
    if (offset >= c->num_lines)
        return -1;
    pthread_mutex_lock(&c->lock);
    int rc = c->lines[offset].output && line_busy(c, offset) ? -1 : 0;
    if (rc == 0)
        c->lines[offset].value = value ? 1 : 0;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int bm_gpiochip_set_level_silently(bm_gpiochip *c, unsigned int offset, int value)
{
    if (offset >= c->num_lines)
        return -1;
    pthread_mutex_lock(&c->lock);
    reap_closed_event_requests(c);
    reap_closed_handles(c);
    line_state *l = &c->lines[offset];
    int rc = l->event_slot >= 0 ? 0 : -1;
    if (rc == 0)
        l->value = value ? 1 : 0;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int bm_gpiochip_value(bm_gpiochip *c, unsigned int offset)
{
    if (offset >= c->num_lines)
        return -1;
    pthread_mutex_lock(&c->lock);
    int value = c->lines[offset].value;
    pthread_mutex_unlock(&c->lock);
    return value;
}

size_t bm_gpiochip_history(bm_gpiochip *c, unsigned int offset, bm_gpio_change *changes,
                           size_t capacity)
{
    pthread_mutex_lock(&c->lock);
    size_t count = 0;
    for (guint i = 0; i < c->history->len; i++) {
        bm_gpio_change change = g_array_index(c->history, bm_gpio_change, i);
        if (change.offset != offset)
            continue;
        if (count < capacity && changes)
            changes[count] = change;
        count++;
    }
    pthread_mutex_unlock(&c->lock);
    return count;
}

int bm_gpiochip_line_requested(bm_gpiochip *c, unsigned int offset, char *consumer,
                               size_t consumer_capacity)
{
    if (offset >= c->num_lines)
        return 0;
    pthread_mutex_lock(&c->lock);
    reap_closed_event_requests(c);
    reap_closed_handles(c);
    int busy = line_busy(c, offset);
    if (consumer && consumer_capacity)
        snprintf(consumer, consumer_capacity, "%s", busy ? c->lines[offset].consumer : "");
    pthread_mutex_unlock(&c->lock);
    return busy;
}
