/*
 * An emulated USBTMC/USB488 instrument behind /dev/bus/usb/BBB/001, served to the real libusb
 * through umockdev's usbdevfs ioctl emulation (the URB handling follows the description of
 * libusb's own tests in docs/hardware.md §5.3). Only bus mechanics live here:
 *   - usbdevfs ioctls (SUBMITURB / REAPURB[NDELAY] / DISCARDURB, claim, clear-halt, ...);
 *   - USBTMC 1.0 Bulk-OUT header parsing (Table 1–4) and Bulk-IN DEV_DEP_MSG_IN framing
 *     (Table 9), split into wMaxPacketSize packets, with a zero-length packet when a transfer
 *     is an exact multiple of wMaxPacketSize (USBTMC 1.0 §3.3);
 *   - USBTMC class requests (Table 15: abort, clear, GET_CAPABILITIES, INDICATOR_PULSE),
 *     USB488 requests (USB488 1.0 Table 9: READ_STATUS_BYTE, REN_CONTROL, GO_TO_LOCAL,
 *     LOCAL_LOCKOUT) and the Interrupt-IN notifications (USB488 1.0 Table 6/7);
 *   - standard GET_DESCRIPTOR(STRING) for the serial number.
 * What the instrument does with a message is decided by the callbacks (a Swift model).
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <linux/ioctl.h>
#include <linux/usbdevice_fs.h>

#define EP_BULK_OUT 0x02
#define EP_BULK_IN 0x81
#define EP_INTERRUPT_IN 0x83

/* USBTMC_status values, USBTMC 1.0 Table 16 and USB488 1.0 Table 10. */
enum {
    ST_SUCCESS = 0x01,
    ST_PENDING = 0x02,
    ST_INTERRUPT_IN_BUSY = 0x20,
    ST_FAILED = 0x80,
    ST_TRANSFER_NOT_IN_PROGRESS = 0x81,
};

typedef struct urb_entry {
    UMockdevIoctlClient *owner;  /* the connection (one per open fd) that submitted it */
    UMockdevIoctlData *data;     /* resolved struct usbdevfs_urb, kept until reaped */
    struct usbdevfs_urb *urb;    /* == data->data */
    GByteArray *reply;           /* IN data copied into the client's buffer when reaped */
    size_t reply_offset;         /* 8 for control URBs (after the setup packet) */
    int status;
    int actual_length;
} urb_entry;

struct bm_usbtmc_device {
    bm_testbed *owner;
    pthread_mutex_t lock;
    UMockdevIoctlBase *handler;
    char devnode[64];
    char syspath[64];

    bm_usbtmc_config config;
    char *manufacturer, *product, *serial_number;
    bm_usbtmc_callbacks callbacks;

    /* URBs */
    GQueue bulk_in_waiting;      /* Bulk-IN URBs the device has not answered (NAK) */
    GQueue interrupt_waiting;    /* Interrupt-IN URBs waiting for a notification */
    GQueue ready;                /* completed, waiting for REAPURB */
    GQueue discarded;            /* cancelled by DISCARDURB, reaped with -ENOENT */

    /* USBTMC device state */
    GByteArray *message_in;      /* DEV_DEP_MSG_OUT payload until EOM */
    int request_pending;         /* REQUEST_DEV_DEP_MSG_IN received, not yet answered */
    uint8_t request_tag;
    uint32_t request_size;
    uint8_t current_in_tag;      /* bTag of the transfer whose packets are queued */
    GQueue in_packets;           /* GByteArray*: Bulk-IN packets of the current transfer */
    GQueue notifications;        /* guint16: bNotify1 << 8 | bNotify2 */
    int rsb_notification_queued;
    int halted_out, halted_in;
    int hold_responses;
    int gone;
    int kernel_driver_bound;
    int claimed;
    bm_usbtmc_stats stats;
};

/* ---------------------------------------------------------------------------------------- */

static void put_le16(uint8_t *p, uint16_t v) { p[0] = v & 0xFF; p[1] = v >> 8; }
static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = v & 0xFF; p[1] = (v >> 8) & 0xFF; p[2] = (v >> 16) & 0xFF; p[3] = v >> 24;
}
static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static urb_entry *entry_new(UMockdevIoctlClient *owner, UMockdevIoctlData *data)
{
    urb_entry *e = g_new0(urb_entry, 1);
    e->owner = g_object_ref(owner);
    e->data = umockdev_ioctl_data_ref(data);
    e->urb = (struct usbdevfs_urb *)data->data;
    return e;
}

static void entry_free(urb_entry *e)
{
    if (e->reply)
        g_byte_array_unref(e->reply);
    umockdev_ioctl_data_unref(e->data);
    g_object_unref(e->owner);
    g_free(e);
}

/* The oldest entry of `queue` submitted through `owner`. Like usbfs, every open fd reaps only
 * its own URBs: a second handle on the device (libusb reading string descriptors while an
 * instrument is open) must never be handed another handle's transfer. */
static urb_entry *pop_owned(GQueue *queue, UMockdevIoctlClient *owner)
{
    for (GList *l = queue->head; l; l = l->next) {
        urb_entry *e = l->data;
        if (e->owner == owner) {
            g_queue_delete_link(queue, l);
            return e;
        }
    }
    return NULL;
}

static void complete_entry(bm_usbtmc_device *d, urb_entry *e, int status, int actual,
                           GByteArray *reply, size_t offset)
{
    e->status = status;
    e->actual_length = actual;
    e->reply = reply;
    e->reply_offset = offset;
    g_queue_push_tail(&d->ready, e);
}

/* The configuration descriptor set, USB 2.0 §9.6 (device, configuration, interface,
 * endpoints), written into the sysfs `descriptors` attribute that libusb reads. */
static GByteArray *build_descriptors(const bm_usbtmc_config *c)
{
    uint8_t dev[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 64, 0, 0, 0, 0, 0x00, 0x01, 1, 2, 3, 1 };
    put_le16(dev + 8, c->vendor_id);
    put_le16(dev + 10, c->product_id);
    int endpoints = c->has_interrupt_in ? 3 : 2;
    uint16_t total = 9 + 9 + 7 * endpoints;
    uint8_t cfg[9] = { 9, 2, 0, 0, 1, 1, 0, 0x80, 50 };
    put_le16(cfg + 2, total);
    uint8_t itf[9] = { 9, 4, 0, 0, (uint8_t)endpoints, 0xFE, 0x03, c->interface_protocol, 0 };
    uint8_t out[7] = { 7, 5, EP_BULK_OUT, 0x02, 0, 0, 0 };
    uint8_t in[7] = { 7, 5, EP_BULK_IN, 0x02, 0, 0, 0 };
    uint8_t intr[7] = { 7, 5, EP_INTERRUPT_IN, 0x03, 2, 0, 10 };
    put_le16(out + 4, c->max_packet_size);
    put_le16(in + 4, c->max_packet_size);
    GByteArray *a = g_byte_array_new();
    g_byte_array_append(a, dev, sizeof dev);
    g_byte_array_append(a, cfg, sizeof cfg);
    g_byte_array_append(a, itf, sizeof itf);
    g_byte_array_append(a, out, sizeof out);
    g_byte_array_append(a, in, sizeof in);
    if (c->has_interrupt_in)
        g_byte_array_append(a, intr, sizeof intr);
    return a;
}

/* USB 2.0 §9.6.7 string descriptor (ASCII → UTF-16LE). */
static GByteArray *string_descriptor(const char *s)
{
    GByteArray *a = g_byte_array_new();
    size_t n = strlen(s);
    if (n > 126)
        n = 126;
    uint8_t head[2] = { (uint8_t)(2 + 2 * n), 3 };
    g_byte_array_append(a, head, 2);
    for (size_t i = 0; i < n; i++) {
        uint8_t ch[2] = { (uint8_t)s[i], 0 };
        g_byte_array_append(a, ch, 2);
    }
    return a;
}

/* ---------------------------------------------------------------------------------------- */
/* Bulk-OUT: USBTMC 1.0 Tables 1–4, USB488 1.0 Table 2 (TRIGGER)                            */

/* Returns 0, or -EPIPE when the header is invalid (the device halts Bulk-OUT, §3.2.2.3). */
static int handle_bulk_out(bm_usbtmc_device *d, const uint8_t *p, size_t n)
{
    d->stats.bulk_out_transfers++;
    if (n < 12 || (p[1] ^ p[2]) != 0xFF || p[1] == 0 || p[3] != 0)
        return -EPIPE;
    uint8_t msg = p[0];
    uint32_t size = get_le32(p + 4);
    switch (msg) {
    case 1: { /* DEV_DEP_MSG_OUT */
        if (size > n - 12)
            return -EPIPE;
        g_byte_array_append(d->message_in, p + 12, size);
        if (p[8] & 0x01) {
            d->stats.messages_received++;
            GByteArray *m = d->message_in;
            d->message_in = g_byte_array_new();
            if (d->callbacks.message)
                d->callbacks.message(d->callbacks.context, m->data, m->len);
            g_byte_array_unref(m);
        }
        return 0;
    }
    case 2: /* REQUEST_DEV_DEP_MSG_IN */
        d->request_pending = 1;
        d->request_tag = p[1];
        d->request_size = size;
        d->stats.requests_dev_dep_msg_in++;
        d->stats.last_request_tag = p[1];
        d->stats.last_request_size = size;
        return 0;
    case 128: /* USB488 TRIGGER */
        d->stats.triggers++;
        if (d->callbacks.trigger)
            d->callbacks.trigger(d->callbacks.context);
        return 0;
    default:
        return -EPIPE;
    }
}

/* Builds the DEV_DEP_MSG_IN transfer answering the pending request and splits it into
 * packets. Returns 0 when the device has nothing to send (it NAKs). */
static int generate_transfer(bm_usbtmc_device *d)
{
    if (!d->request_pending || d->hold_responses)
        return 0;
    uint32_t cap = d->request_size;
    if (d->config.max_transfer_size && cap > d->config.max_transfer_size)
        cap = d->config.max_transfer_size;
    uint8_t *buffer = g_malloc(cap ? cap : 1);
    int eom = 0;
    long got = d->callbacks.read_response
        ? d->callbacks.read_response(d->callbacks.context, buffer, cap, &eom) : -1;
    if (got < 0) {
        g_free(buffer);
        return 0;
    }
    if ((uint32_t)got > cap)
        got = cap;
    size_t total = 12 + (size_t)got;
    size_t padded = (total + 3) & ~(size_t)3;
    uint8_t *t = g_malloc0(padded);
    t[0] = 2;
    t[1] = d->request_tag;
    t[2] = (uint8_t)~d->request_tag;
    put_le32(t + 4, (uint32_t)got);
    t[8] = eom ? 0x01 : 0x00;
    memcpy(t + 12, buffer, (size_t)got);
    g_free(buffer);

    size_t mps = d->config.max_packet_size;
    for (size_t off = 0; off < padded; off += mps) {
        size_t len = padded - off < mps ? padded - off : mps;
        g_queue_push_tail(&d->in_packets, g_byte_array_append(g_byte_array_new(), t + off, len));
    }
    if (padded % mps == 0) {
        g_queue_push_tail(&d->in_packets, g_byte_array_new());
        d->stats.zero_length_packets++;
    }
    g_free(t);
    d->current_in_tag = d->request_tag;
    d->request_pending = 0;
    d->stats.bulk_in_transfers++;
    return 1;
}

/* Fills one Bulk-IN URB from the queued packets: whole packets until a short packet
 * (which ends the URB) or the buffer is full; a packet larger than the room left is a
 * babble (-EOVERFLOW), which is what a host buffer that is not a multiple of
 * wMaxPacketSize gets. */
static void fill_bulk_in(bm_usbtmc_device *d, urb_entry *e)
{
    size_t room = (size_t)e->urb->buffer_length;
    size_t mps = d->config.max_packet_size;
    GByteArray *out = g_byte_array_new();
    int status = 0;
    while (!g_queue_is_empty(&d->in_packets)) {
        GByteArray *p = g_queue_peek_head(&d->in_packets);
        if (p->len > room) {
            g_byte_array_append(out, p->data, (guint)room);
            status = -EOVERFLOW;
            g_byte_array_unref(g_queue_pop_head(&d->in_packets));
            break;
        }
        g_byte_array_append(out, p->data, p->len);
        room -= p->len;
        int short_packet = p->len < mps;
        g_byte_array_unref(g_queue_pop_head(&d->in_packets));
        if (short_packet || room == 0)
            break;
    }
    complete_entry(d, e, status, (int)out->len, out, 0);
}

/* Moves waiting IN URBs to `ready` when the device has something for them. */
static void progress(bm_usbtmc_device *d)
{
    while (!g_queue_is_empty(&d->bulk_in_waiting)) {
        urb_entry *e = g_queue_peek_head(&d->bulk_in_waiting);
        if (d->halted_in) {
            g_queue_pop_head(&d->bulk_in_waiting);
            d->stats.stalls_sent++;
            complete_entry(d, e, -EPIPE, 0, NULL, 0);
            continue;
        }
        if (g_queue_is_empty(&d->in_packets) && !generate_transfer(d))
            break;
        g_queue_pop_head(&d->bulk_in_waiting);
        fill_bulk_in(d, e);
    }
    while (!g_queue_is_empty(&d->interrupt_waiting)) {
        uint8_t stb = 0;
        guint16 note;
        if (!g_queue_is_empty(&d->notifications)) {
            note = (guint16)GPOINTER_TO_UINT(g_queue_pop_head(&d->notifications));
            if ((note >> 8) != 0x81)
                d->rsb_notification_queued = 0;
        } else if (d->callbacks.service_request &&
                   d->callbacks.service_request(d->callbacks.context, &stb)) {
            note = (guint16)(0x81 << 8 | stb);   /* USB488 1.0 Table 7: SRQ */
        } else {
            break;
        }
        urb_entry *e = g_queue_pop_head(&d->interrupt_waiting);
        uint8_t bytes[2] = { (uint8_t)(note >> 8), (uint8_t)note };
        GByteArray *reply = g_byte_array_append(g_byte_array_new(), bytes, 2);
        d->stats.interrupt_notifications++;
        complete_entry(d, e, 0, 2, reply, 0);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Control requests                                                                         */

/* Returns the data stage of an IN request in *reply, or -EPIPE to stall it. */
static int handle_control(bm_usbtmc_device *d, const uint8_t *setup, GByteArray **reply)
{
    uint8_t type = setup[0], request = setup[1];
    uint16_t value = (uint16_t)(setup[2] | setup[3] << 8);
    uint16_t index = (uint16_t)(setup[4] | setup[5] << 8);
    GByteArray *r = g_byte_array_new();
    *reply = r;

    if (type == 0x80 && request == 6) { /* GET_DESCRIPTOR */
        uint8_t kind = value >> 8, number = value & 0xFF;
        if (kind == 3) {
            GByteArray *s;
            if (number == 0) {
                uint8_t langs[4] = { 4, 3, 0x09, 0x04 };
                g_byte_array_append(r, langs, 4);
                return 0;
            } else if (number == 1) {
                s = string_descriptor(d->manufacturer);
            } else if (number == 2) {
                s = string_descriptor(d->product);
            } else if (number == 3) {
                s = string_descriptor(d->serial_number);
            } else {
                return -EPIPE;
            }
            g_byte_array_append(r, s->data, s->len);
            g_byte_array_unref(s);
            return 0;
        }
        if (kind == 1 || kind == 2) {
            GByteArray *all = build_descriptors(&d->config);
            if (kind == 1)
                g_byte_array_append(r, all->data, 18);
            else
                g_byte_array_append(r, all->data + 18, all->len - 18);
            g_byte_array_unref(all);
            return 0;
        }
        return -EPIPE;
    }

    if (type == 0xA2) { /* class request, endpoint recipient: USBTMC 1.0 Table 15 */
        uint8_t b[8] = { 0 };
        switch (request) {
        case 1: /* INITIATE_ABORT_BULK_OUT, §4.2.1.2 */
            if (index != EP_BULK_OUT)
                return -EPIPE;
            d->stats.initiate_abort_bulk_out++;
            b[0] = d->message_in->len ? ST_SUCCESS : ST_FAILED;
            b[1] = (uint8_t)value;
            g_byte_array_set_size(d->message_in, 0);
            g_byte_array_append(r, b, 2);
            return 0;
        case 2: /* CHECK_ABORT_BULK_OUT_STATUS, §4.2.1.3 */
            b[0] = ST_SUCCESS;
            g_byte_array_append(r, b, 8);
            return 0;
        case 3: /* INITIATE_ABORT_BULK_IN, §4.2.1.4 */
            if (index != EP_BULK_IN)
                return -EPIPE;
            d->stats.initiate_abort_bulk_in++;
            b[1] = (uint8_t)value;
            if ((d->request_pending && d->request_tag == (uint8_t)value) ||
                (!g_queue_is_empty(&d->in_packets) && d->current_in_tag == (uint8_t)value)) {
                /* Abort: drop the transfer and end it with a short packet. */
                while (!g_queue_is_empty(&d->in_packets))
                    g_byte_array_unref(g_queue_pop_head(&d->in_packets));
                g_queue_push_tail(&d->in_packets, g_byte_array_new());
                d->request_pending = 0;
                if (d->callbacks.abort_response)
                    d->callbacks.abort_response(d->callbacks.context);
                b[0] = ST_SUCCESS;
            } else if (!d->request_pending && g_queue_is_empty(&d->in_packets)) {
                b[0] = ST_FAILED;   /* nothing in progress and the FIFO is empty */
            } else {
                b[0] = ST_TRANSFER_NOT_IN_PROGRESS;
            }
            g_byte_array_append(r, b, 2);
            return 0;
        case 4: /* CHECK_ABORT_BULK_IN_STATUS, §4.2.1.5 */
            d->stats.check_abort_bulk_in_status++;
            if (g_queue_is_empty(&d->in_packets)) {
                b[0] = ST_SUCCESS;
            } else {
                b[0] = ST_PENDING;
                b[1] = 0x01;   /* bmAbortBulkIn.D0: more data queued, read Bulk-IN */
            }
            g_byte_array_append(r, b, 8);
            return 0;
        default:
            return -EPIPE;
        }
    }

    if (type == 0xA1) { /* class request, interface recipient */
        uint8_t b[24] = { 0 };
        switch (request) {
        case 5: /* INITIATE_CLEAR, §4.2.1.6 */
            d->stats.initiate_clear++;
            g_byte_array_set_size(d->message_in, 0);
            while (!g_queue_is_empty(&d->in_packets))
                g_byte_array_unref(g_queue_pop_head(&d->in_packets));
            d->request_pending = 0;
            if (d->callbacks.device_clear)
                d->callbacks.device_clear(d->callbacks.context);
            b[0] = ST_SUCCESS;
            g_byte_array_append(r, b, 1);
            return 0;
        case 6: /* CHECK_CLEAR_STATUS, §4.2.1.7 */
            d->stats.check_clear_status++;
            b[0] = ST_SUCCESS;
            g_byte_array_append(r, b, 2);
            return 0;
        case 7: /* GET_CAPABILITIES, USBTMC Table 37 + USB488 Table 8 */
            b[0] = ST_SUCCESS;
            put_le16(b + 2, 0x0100);
            b[4] = 0x04;              /* accepts INDICATOR_PULSE */
            b[5] = 0x00;              /* no TermChar support */
            if (d->config.interface_protocol == 1) {
                put_le16(b + 12, 0x0100);
                b[14] = 0x07;         /* 488.2 interface, REN/GTL/LLO, TRIGGER */
                b[15] = 0x0F;         /* SCPI, SR1, RL1, DT1 */
            }
            g_byte_array_append(r, b, 24);
            return 0;
        case 64: /* INDICATOR_PULSE */
            b[0] = ST_SUCCESS;
            g_byte_array_append(r, b, 1);
            return 0;
        case 128: { /* USB488 READ_STATUS_BYTE, USB488 1.0 §4.3.1 */
            if (d->config.interface_protocol != 1)
                return -EPIPE;
            d->stats.read_status_byte++;
            uint8_t stb = d->callbacks.status_byte ? d->callbacks.status_byte(d->callbacks.context) : 0;
            b[1] = (uint8_t)value;
            if (!d->config.has_interrupt_in) {
                b[0] = ST_SUCCESS;
                b[2] = stb;
            } else if (d->rsb_notification_queued) {
                b[0] = ST_INTERRUPT_IN_BUSY;
            } else {
                b[0] = ST_SUCCESS;
                b[2] = 0;
                guint16 note = (guint16)((0x80 | (value & 0x7F)) << 8 | stb);
                g_queue_push_tail(&d->notifications, GUINT_TO_POINTER(note));
                d->rsb_notification_queued = 1;
            }
            g_byte_array_append(r, b, 3);
            return 0;
        }
        case 160: /* REN_CONTROL */
        case 161: /* GO_TO_LOCAL */
        case 162: /* LOCAL_LOCKOUT */
            if (d->config.interface_protocol != 1)
                return -EPIPE;
            if (request == 160 && (value & 0xFF) == 1)
                d->stats.ren_enable++;
            b[0] = ST_SUCCESS;
            g_byte_array_append(r, b, 1);
            return 0;
        default:
            return -EPIPE;
        }
    }
    return -EPIPE;
}

/* ---------------------------------------------------------------------------------------- */
/* usbdevfs ioctls                                                                          */

static void submit_urb(bm_usbtmc_device *d, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    g_autoptr(UMockdevIoctlData) urb_data =
        umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
    if (urb_data == NULL) {
        umockdev_ioctl_client_complete(client, -1, EFAULT);
        return;
    }
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)urb_data->data;
    /* Only OUT data and control setup packets are read here; IN data is written at reap. */
    int reads_buffer = urb->type == USBDEVFS_URB_TYPE_CONTROL || !(urb->endpoint & 0x80);
    g_autoptr(UMockdevIoctlData) buffer = urb->buffer_length > 0 && reads_buffer
        ? umockdev_ioctl_data_resolve(urb_data, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
                                      (gsize)urb->buffer_length, NULL)
        : NULL;
    d->stats.urbs_submitted++;
    /* Data the host says it sends but that cannot be read (a bad pointer, or the process killed
     * mid-ioctl): usbdevfs fails the submit with EFAULT when it cannot copy the caller's buffer. */
    if (urb->type != USBDEVFS_URB_TYPE_CONTROL && reads_buffer && urb->buffer_length > 0 && buffer == NULL) {
        umockdev_ioctl_client_complete(client, -1, EFAULT);
        return;
    }

    if (urb->type == USBDEVFS_URB_TYPE_CONTROL) {
        if (urb->buffer_length < 8 || buffer == NULL) {
            umockdev_ioctl_client_complete(client, -1, EINVAL);
            return;
        }
        GByteArray *reply = NULL;
        uint8_t setup[8];
        memcpy(setup, buffer->data, 8);
        int rc = handle_control(d, setup, &reply);
        urb_entry *e = entry_new(client, urb_data);
        if (rc < 0) {
            d->stats.stalls_sent++;
            g_byte_array_unref(reply);
            complete_entry(d, e, rc, 0, NULL, 0);
        } else {
            size_t want = (size_t)(setup[6] | setup[7] << 8);
            size_t room = (size_t)urb->buffer_length - 8;
            if (reply->len > want)
                g_byte_array_set_size(reply, (guint)want);
            if (reply->len > room)
                g_byte_array_set_size(reply, (guint)room);
            complete_entry(d, e, 0, (int)reply->len, reply, 8);
        }
    } else if (urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == EP_BULK_OUT) {
        urb_entry *e = entry_new(client, urb_data);
        int rc = d->halted_out ? -EPIPE
                               : handle_bulk_out(d, buffer ? buffer->data : NULL,
                                                 (size_t)urb->buffer_length);
        if (rc < 0) {
            d->halted_out = 1;
            d->stats.stalls_sent++;
            complete_entry(d, e, rc, 0, NULL, 0);
        } else {
            complete_entry(d, e, 0, urb->buffer_length, NULL, 0);
        }
    } else if (urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == EP_BULK_IN) {
        g_queue_push_tail(&d->bulk_in_waiting, entry_new(client, urb_data));
    } else if (urb->type == USBDEVFS_URB_TYPE_INTERRUPT && urb->endpoint == EP_INTERRUPT_IN &&
               d->config.has_interrupt_in) {
        g_queue_push_tail(&d->interrupt_waiting, entry_new(client, urb_data));
    } else {
        umockdev_ioctl_client_complete(client, -1, ENOENT);   /* no such endpoint */
        return;
    }
    umockdev_ioctl_client_complete(client, 0, 0);
}

static void reap_urb(bm_usbtmc_device *d, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    urb_entry *e = pop_owned(&d->discarded, client);
    if (e != NULL) {
        e->status = -ENOENT;
        e->actual_length = 0;
    } else {
        if (d->gone) {
            /* Disconnect kills everything in flight with -ENODEV. */
            GQueue *queues[] = { &d->bulk_in_waiting, &d->interrupt_waiting };
            for (size_t q = 0; q < 2; q++)
                while (!g_queue_is_empty(queues[q]))
                    complete_entry(d, g_queue_pop_head(queues[q]), -ENODEV, 0, NULL, 0);
        } else {
            progress(d);
        }
        e = pop_owned(&d->ready, client);
    }
    if (e == NULL) {
        umockdev_ioctl_client_complete(client, -1, d->gone ? ENODEV : EAGAIN);
        return;
    }
    if (e->reply && e->reply->len > 0) {
        /* Through umockdev's copy of the client's buffer, synced back when the ioctl completes:
         * the client may be another process (a qbench child of the test), whose addresses mean
         * nothing here. */
        g_autoptr(UMockdevIoctlData) buffer =
            umockdev_ioctl_data_resolve(e->data, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
                                        (gsize)e->urb->buffer_length, NULL);
        if (buffer == NULL || e->reply_offset + e->reply->len > (size_t)buffer->data_len) {
            umockdev_ioctl_client_complete(client, -1, EFAULT);
            entry_free(e);
            return;
        }
        memcpy(buffer->data + e->reply_offset, e->reply->data, e->reply->len);
    }
    e->urb->actual_length = e->actual_length;
    e->urb->status = e->status;
    g_autoptr(UMockdevIoctlData) pointer = umockdev_ioctl_data_resolve(arg, 0, sizeof(gpointer), NULL);
    umockdev_ioctl_data_set_ptr(pointer, 0, e->data);
    umockdev_ioctl_client_complete(client, 0, 0);
    entry_free(e);
}

static gboolean find_and_discard(GQueue *queue, gulong address, GQueue *discarded)
{
    for (GList *l = queue->head; l; l = l->next) {
        urb_entry *e = l->data;
        if (e->data->client_addr == address) {
            g_queue_delete_link(queue, l);
            g_queue_push_tail(discarded, e);
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user)
{
    (void)handler;
    bm_usbtmc_device *d = user;
    gulong request = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    gboolean handled = TRUE;

    pthread_mutex_lock(&d->lock);
    if (d->gone && request != USBDEVFS_REAPURB && request != USBDEVFS_REAPURBNDELAY &&
        request != USBDEVFS_DISCARDURB) {
        umockdev_ioctl_client_complete(client, -1, ENODEV);
        pthread_mutex_unlock(&d->lock);
        return TRUE;
    }
    switch (request) {
    case USBDEVFS_GET_CAPABILITIES: {
        g_autoptr(UMockdevIoctlData) caps = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), NULL);
        *(guint32 *)caps->data = USBDEVFS_CAP_BULK_SCATTER_GATHER | USBDEVFS_CAP_BULK_CONTINUATION |
                                 USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT |
                                 USBDEVFS_CAP_ZERO_PACKET;
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    case USBDEVFS_GETDRIVER: {
        g_autoptr(UMockdevIoctlData) g =
            umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_getdriver), NULL);
        if (d->kernel_driver_bound) {
            struct usbdevfs_getdriver *gd = (struct usbdevfs_getdriver *)g->data;
            snprintf(gd->driver, sizeof gd->driver, "usbtmc");
            umockdev_ioctl_client_complete(client, 0, 0);
        } else if (d->claimed) {
            struct usbdevfs_getdriver *gd = (struct usbdevfs_getdriver *)g->data;
            snprintf(gd->driver, sizeof gd->driver, "usbfs");
            umockdev_ioctl_client_complete(client, 0, 0);
        } else {
            umockdev_ioctl_client_complete(client, -1, ENODATA);
        }
        break;
    }
    case USBDEVFS_IOCTL: { /* only USBDEVFS_DISCONNECT (detach kernel driver) is used */
        if (d->kernel_driver_bound) {
            d->kernel_driver_bound = 0;
            umockdev_ioctl_client_complete(client, 0, 0);
        } else {
            umockdev_ioctl_client_complete(client, -1, ENODATA);
        }
        break;
    }
    case USBDEVFS_DISCONNECT_CLAIM:
    case USBDEVFS_CLAIMINTERFACE:
        if (d->config.interface_busy) {
            umockdev_ioctl_client_complete(client, -1, EBUSY);
        } else if (request == USBDEVFS_CLAIMINTERFACE && d->kernel_driver_bound) {
            umockdev_ioctl_client_complete(client, -1, EBUSY);   /* the driver holds it */
        } else {
            d->kernel_driver_bound = 0;
            d->claimed = 1;
            umockdev_ioctl_client_complete(client, 0, 0);
        }
        break;
    case USBDEVFS_RELEASEINTERFACE:
        d->claimed = 0;
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    case USBDEVFS_CLEAR_HALT: {
        g_autoptr(UMockdevIoctlData) ep = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), NULL);
        guint32 endpoint = *(guint32 *)ep->data;
        if (endpoint == EP_BULK_OUT) {
            d->halted_out = 0;
            d->stats.clear_halt_bulk_out++;
        } else if (endpoint == EP_BULK_IN) {
            d->halted_in = 0;
            d->stats.clear_halt_bulk_in++;
        }
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    case USBDEVFS_SETINTERFACE:
    case USBDEVFS_SETCONFIGURATION:
    case USBDEVFS_RESET:
    case USBDEVFS_RESETEP:
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    case USBDEVFS_SUBMITURB:
        submit_urb(d, client, arg);
        break;
    case USBDEVFS_REAPURB:
    case USBDEVFS_REAPURBNDELAY:
        reap_urb(d, client, arg);
        break;
    case USBDEVFS_DISCARDURB: {
        gulong address = (gulong) * (void **)arg->data;
        if (find_and_discard(&d->bulk_in_waiting, address, &d->discarded) ||
            find_and_discard(&d->interrupt_waiting, address, &d->discarded)) {
            d->stats.urbs_discarded++;
            umockdev_ioctl_client_complete(client, 0, 0);
        } else {
            umockdev_ioctl_client_complete(client, -1, EINVAL);   /* already completed */
        }
        break;
    }
    default:
        handled = FALSE;
        break;
    }
    pthread_mutex_unlock(&d->lock);
    return handled;
}

/* ---------------------------------------------------------------------------------------- */

bm_usbtmc_device *bm_usbtmc_add(bm_testbed *testbed, const bm_usbtmc_config *config,
                                const bm_usbtmc_callbacks *callbacks, char *error,
                                size_t error_capacity)
{
    if (testbed == NULL || config == NULL) {
        bm_set_error(error, error_capacity, "bm_usbtmc_add: testbed and config are required");
        return NULL;
    }
    if (config->bus_number == 0 || config->bus_number > 127 ||
        (config->max_packet_size != 64 && config->max_packet_size != 512)) {
        bm_set_error(error, error_capacity,
                     "bm_usbtmc_add: bus_number must be 1..127 and max_packet_size 64 or 512");
        return NULL;
    }
    bm_usbtmc_device *d = g_new0(bm_usbtmc_device, 1);
    pthread_mutex_init(&d->lock, NULL);
    d->owner = testbed;
    d->config = *config;
    d->manufacturer = g_strdup(config->manufacturer ? config->manufacturer : "");
    d->product = g_strdup(config->product ? config->product : "");
    d->serial_number = g_strdup(config->serial_number ? config->serial_number : "");
    d->config.manufacturer = d->manufacturer;
    d->config.product = d->product;
    d->config.serial_number = d->serial_number;
    d->kernel_driver_bound = config->kernel_driver_bound;
    if (callbacks)
        d->callbacks = *callbacks;
    d->message_in = g_byte_array_new();
    g_queue_init(&d->bulk_in_waiting);
    g_queue_init(&d->interrupt_waiting);
    g_queue_init(&d->ready);
    g_queue_init(&d->discarded);
    g_queue_init(&d->in_packets);
    g_queue_init(&d->notifications);
    snprintf(d->devnode, sizeof d->devnode, "/dev/bus/usb/%03u/001", config->bus_number);
    snprintf(d->syspath, sizeof d->syspath, "/devices/usb%u", config->bus_number);

    d->handler = umockdev_ioctl_base_new();
    g_signal_connect(d->handler, "handle-ioctl", G_CALLBACK(handle_ioctl), d);
    GError *gerror = NULL;
    /* The handler must be attached before the device appears (docs/hardware.md §5.2). */
    if (!umockdev_testbed_attach_ioctl(testbed->umockdev, d->devnode, d->handler, &gerror)) {
        bm_set_error(error, error_capacity, "attach_ioctl(%s): %s", d->devnode,
                     gerror ? gerror->message : "failed");
        g_clear_error(&gerror);
        bm_usbtmc_free(d);
        return NULL;
    }

    GByteArray *descriptors = build_descriptors(&d->config);
    GString *hex = g_string_new(NULL);
    for (guint i = 0; i < descriptors->len; i++)
        g_string_append_printf(hex, "%02x", descriptors->data[i]);
    g_byte_array_unref(descriptors);
    gchar *record = g_strdup_printf(
        "P: %s\n"
        "N: bus/usb/%03u/001\n"
        "E: SUBSYSTEM=usb\n"
        "E: DRIVER=usb\n"
        "E: BUSNUM=%03u\n"
        "E: DEVNUM=001\n"
        "E: DEVNAME=%s\n"
        "E: DEVTYPE=usb_device\n"
        "E: PRODUCT=%x/%x/100\n"
        "A: bConfigurationValue=1\\n\n"
        "A: busnum=%u\\n\n"
        "A: devnum=1\\n\n"
        "A: speed=%s\\n\n"
        "A: idVendor=%04x\\n\n"
        "A: idProduct=%04x\\n\n"
        "A: serial=%s\\n\n"
        "H: descriptors=%s\n",
        d->syspath, config->bus_number, config->bus_number, d->devnode, config->vendor_id,
        config->product_id, config->bus_number, config->max_packet_size == 512 ? "480" : "12",
        config->vendor_id, config->product_id, d->serial_number, hex->str);
    g_string_free(hex, TRUE);
    gboolean ok = umockdev_testbed_add_from_string(testbed->umockdev, record, &gerror);
    g_free(record);
    if (!ok) {
        bm_set_error(error, error_capacity, "add_from_string(%s): %s", d->syspath,
                     gerror ? gerror->message : "failed");
        g_clear_error(&gerror);
        umockdev_testbed_detach_ioctl(testbed->umockdev, d->devnode, NULL);
        bm_usbtmc_free(d);
        return NULL;
    }
    g_ptr_array_add(testbed->usbtmc_devices, d);
    return d;
}

void bm_usbtmc_free(bm_usbtmc_device *d)
{
    if (d == NULL)
        return;
    g_clear_object(&d->handler);
    GQueue *queues[] = { &d->bulk_in_waiting, &d->interrupt_waiting, &d->ready, &d->discarded };
    for (size_t q = 0; q < 4; q++)
        while (!g_queue_is_empty(queues[q]))
            entry_free(g_queue_pop_head(queues[q]));
    while (!g_queue_is_empty(&d->in_packets))
        g_byte_array_unref(g_queue_pop_head(&d->in_packets));
    g_queue_clear(&d->notifications);
    g_byte_array_unref(d->message_in);
    g_free(d->manufacturer);
    g_free(d->product);
    g_free(d->serial_number);
    pthread_mutex_destroy(&d->lock);
    g_free(d);
}

void bm_usbtmc_set_hold_responses(bm_usbtmc_device *d, int hold)
{
    pthread_mutex_lock(&d->lock);
    d->hold_responses = hold;
    pthread_mutex_unlock(&d->lock);
}

void bm_usbtmc_halt_endpoint(bm_usbtmc_device *d, uint8_t endpoint)
{
    pthread_mutex_lock(&d->lock);
    if (endpoint == EP_BULK_OUT)
        d->halted_out = 1;
    else if (endpoint == EP_BULK_IN)
        d->halted_in = 1;
    pthread_mutex_unlock(&d->lock);
}

void bm_usbtmc_set_gone(bm_usbtmc_device *d, int gone)
{
    pthread_mutex_lock(&d->lock);
    d->gone = gone;
    pthread_mutex_unlock(&d->lock);
}

void bm_usbtmc_remove(bm_usbtmc_device *d)
{
    bm_usbtmc_set_gone(d, 1);
    umockdev_testbed_uevent(d->owner->umockdev, d->syspath, "remove");
    umockdev_testbed_remove_device(d->owner->umockdev, d->syspath);
}

void bm_usbtmc_set_max_transfer_size(bm_usbtmc_device *d, uint32_t size)
{
    pthread_mutex_lock(&d->lock);
    d->config.max_transfer_size = size;
    pthread_mutex_unlock(&d->lock);
}

int bm_usbtmc_kernel_driver_bound(bm_usbtmc_device *d)
{
    pthread_mutex_lock(&d->lock);
    int bound = d->kernel_driver_bound;
    pthread_mutex_unlock(&d->lock);
    return bound;
}

int bm_usbtmc_endpoint_halted(bm_usbtmc_device *d, uint8_t endpoint)
{
    pthread_mutex_lock(&d->lock);
    int halted = endpoint == EP_BULK_OUT ? d->halted_out : endpoint == EP_BULK_IN ? d->halted_in : 0;
    pthread_mutex_unlock(&d->lock);
    return halted;
}

bm_usbtmc_stats bm_usbtmc_get_stats(bm_usbtmc_device *d)
{
    pthread_mutex_lock(&d->lock);
    bm_usbtmc_stats s = d->stats;
    pthread_mutex_unlock(&d->lock);
    return s;
}
