/*
 * BenchMockHW: test support only. The byte-level mechanics of an emulated USBTMC/USB488
 * instrument (usbdevfs URBs) and of an emulated GPIO chip (GPIO uAPI v1 ioctls), served
 * through umockdev so that the REAL libusb 1.0.26 and libgpiod 1.6.3 code paths run against
 * them (docs/hardware.md §5.2–§5.5). The instrument's SCPI behaviour is NOT here: it is
 * supplied through bm_usbtmc_callbacks by a Swift model (InstrumentModels), so each
 * instrument is modelled once and shared with the in-memory unit tests.
 *
 * Requires the umockdev preload (LD_PRELOAD=libumockdev-preload.so.0). One testbed per
 * process at a time. All functions are thread-safe; the callbacks run on umockdev's
 * ioctl worker thread.
 */
#ifndef BENCH_MOCK_HW_H
#define BENCH_MOCK_HW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Testbed                                                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef struct bm_testbed bm_testbed;

/* Creates the umockdev testbed. Returns NULL and fills `error` when the preload is not
 * active or the testbed cannot be created. */
bm_testbed *bm_testbed_new(char *error, size_t error_capacity);

/* Tears the testbed down (removes the emulated /sys and /dev) and frees every device that
 * was added to it. Close all libusb contexts and gpiod chips first. */
void bm_testbed_free(bm_testbed *testbed);

/* ---------------------------------------------------------------------------------------- */
/* Emulated USBTMC / USB488 instrument                                                      */
/* ---------------------------------------------------------------------------------------- */

/* The instrument behaviour, supplied by the test (every member may be NULL). */
typedef struct bm_usbtmc_callbacks {
    void *context;
    /* A complete device-dependent message arrived (USBTMC 1.0 §3.2.1: the last
     * DEV_DEP_MSG_OUT transfer of the message had EOM set). Terminators are included. */
    void (*message)(void *context, const uint8_t *bytes, size_t length);
    /* The host sent REQUEST_DEV_DEP_MSG_IN and a Bulk-IN URB is waiting. Copy at most
     * `capacity` bytes of the pending response into `buffer`, set *end_of_message to 1 when
     * these are its last bytes, and return the count. Return -1 when nothing is pending: the
     * device then NAKs and the URB stays in flight until the host's timeout. */
    long (*read_response)(void *context, uint8_t *buffer, size_t capacity, int *end_of_message);
    /* The IEEE 488.2 status byte (for READ_STATUS_BYTE, USB488 1.0 §4.3.1). */
    uint8_t (*status_byte)(void *context);
    /* Returns 1 and sets *status_byte once per service request (USB488 1.0 §3.4.2 SRQ). */
    int (*service_request)(void *context, uint8_t *status_byte);
    /* INITIATE_CLEAR (USBTMC 1.0 §4.2.1.6): discard unread input and all pending output. */
    void (*device_clear)(void *context);
    /* INITIATE_ABORT_BULK_IN succeeded (USBTMC 1.0 §4.2.1.4): discard the response being sent. */
    void (*abort_response)(void *context);
    /* USB488 TRIGGER message (USB488 1.0 §3.2.1.1, MsgID 128). */
    void (*trigger)(void *context);
} bm_usbtmc_callbacks;

typedef struct bm_usbtmc_config {
    uint16_t vendor_id;
    uint16_t product_id;
    const char *manufacturer;       /* string descriptor 1 */
    const char *product;            /* string descriptor 2 */
    const char *serial_number;      /* string descriptor 3 */
    uint8_t bus_number;             /* 1..127, unique per device: /dev/bus/usb/BBB/001 */
    uint8_t interface_protocol;     /* 0 = USBTMC, 1 = USB488 */
    uint16_t max_packet_size;       /* Bulk wMaxPacketSize: 64 (full speed) or 512 (high speed) */
    uint32_t max_transfer_size;     /* device-side limit of one DEV_DEP_MSG_IN payload; 0 = no limit */
    int has_interrupt_in;           /* USB488 Interrupt-IN endpoint 0x83 */
    int kernel_driver_bound;        /* pretend usbtmc.ko is bound until libusb detaches it */
    int interface_busy;             /* pretend another process has claimed the interface */
} bm_usbtmc_config;

/* Counters, for assertions on what the host actually did on the bus. */
typedef struct bm_usbtmc_stats {
    uint32_t urbs_submitted;
    uint32_t urbs_discarded;             /* libusb cancels a URB on timeout by DISCARDURB */
    uint32_t messages_received;          /* complete DEV_DEP_MSG_OUT messages */
    uint32_t bulk_out_transfers;
    uint32_t requests_dev_dep_msg_in;
    uint32_t bulk_in_transfers;          /* DEV_DEP_MSG_IN transfers sent */
    uint32_t zero_length_packets;
    uint32_t clear_halt_bulk_out;
    uint32_t clear_halt_bulk_in;
    uint32_t initiate_abort_bulk_in;
    uint32_t check_abort_bulk_in_status;
    uint32_t initiate_abort_bulk_out;
    uint32_t initiate_clear;
    uint32_t check_clear_status;
    uint32_t read_status_byte;
    uint32_t ren_enable;                 /* REN_CONTROL with wValue 1: remote enable asserted */
    uint32_t triggers;
    uint32_t interrupt_notifications;
    uint32_t stalls_sent;
    uint8_t last_request_tag;            /* bTag of the last REQUEST_DEV_DEP_MSG_IN */
    uint32_t last_request_size;          /* its TransferSize */
} bm_usbtmc_stats;

typedef struct bm_usbtmc_device bm_usbtmc_device;

/* Adds an instrument at /dev/bus/usb/<bus>/001. Returns NULL and fills `error` on failure.
 * The callbacks struct is copied; its context must outlive the testbed. */
bm_usbtmc_device *bm_usbtmc_add(bm_testbed *testbed, const bm_usbtmc_config *config,
                                const bm_usbtmc_callbacks *callbacks,
                                char *error, size_t error_capacity);

/* While set, REQUEST_DEV_DEP_MSG_IN is not answered (the device NAKs Bulk-IN). */
void bm_usbtmc_set_hold_responses(bm_usbtmc_device *device, int hold);
/* Halts (STALLs) an endpoint until the host sends CLEAR_FEATURE(ENDPOINT_HALT). */
void bm_usbtmc_halt_endpoint(bm_usbtmc_device *device, uint8_t endpoint);
/* Simulates unplugging: every usbdevfs call then fails with ENODEV. */
void bm_usbtmc_set_gone(bm_usbtmc_device *device, int gone);
/* Simulates pulling the cable: gone (as above), a "remove" uevent, and the device taken out of
 * the emulated sysfs. A libusb context made before may still list it from its cache, but its
 * descriptors can no longer be read (no serial number). The handle stays valid for the testbed. */
void bm_usbtmc_remove(bm_usbtmc_device *device);
void bm_usbtmc_set_max_transfer_size(bm_usbtmc_device *device, uint32_t size);
int bm_usbtmc_kernel_driver_bound(bm_usbtmc_device *device);
int bm_usbtmc_endpoint_halted(bm_usbtmc_device *device, uint8_t endpoint);
bm_usbtmc_stats bm_usbtmc_get_stats(bm_usbtmc_device *device);

/* ---------------------------------------------------------------------------------------- */
/* Emulated GPIO chip (GPIO character device uAPI v1, what libgpiod 1.6 uses)              */
/* ---------------------------------------------------------------------------------------- */

typedef struct bm_gpiochip bm_gpiochip;

/* One value change on an output line, as the chip saw it. */
typedef struct bm_gpio_change {
    uint32_t offset;
    int32_t value;
    uint64_t monotonic_ns;   /* CLOCK_MONOTONIC when the ioctl arrived */
} bm_gpio_change;

/* Adds /dev/<name> (e.g. "gpiochip0") with `lines` lines (at most 64) named "line<N>". */
bm_gpiochip *bm_gpiochip_add(bm_testbed *testbed, const char *name, const char *label,
                             unsigned int lines, char *error, size_t error_capacity);
/* Renames a line (what gpioinfo shows); call before requesting it. 0 on success. */
int bm_gpiochip_set_line_name(bm_gpiochip *chip, unsigned int offset, const char *name);
/* Marks a line as requested by another process with this consumer label. 0 on success. */
int bm_gpiochip_hold_line(bm_gpiochip *chip, unsigned int offset, const char *consumer);
/* Queues an edge event for a line requested for edge events. `timestamp_ns` 0 means now
 * (CLOCK_MONOTONIC). Returns 0, or -1 when no edge-event request is active on the line. */
int bm_gpiochip_inject_edge(bm_gpiochip *chip, unsigned int offset, int rising,
                            uint64_t timestamp_ns);
/* Sets the physical level an input line reads (no edge event is queued). 0 on success. */
int bm_gpiochip_set_input(bm_gpiochip *chip, unsigned int offset, int value);
/* Changes the physical level of a line requested for edge events WITHOUT queuing an edge: the
 * kernel's 16-event FIFO having dropped the last edge of a bouncing contact. The level still
 * reads through GPIOHANDLE_GET_LINE_VALUES_IOCTL on the event fd. Returns 0, or -1 when no
 * edge-event request is active on the line. */
int bm_gpiochip_set_level_silently(bm_gpiochip *chip, unsigned int offset, int value);
/* Current physical value of a line (0/1), -1 for a bad offset. */
int bm_gpiochip_value(bm_gpiochip *chip, unsigned int offset);
/* Copies up to `capacity` value changes of one line (oldest first); returns how many exist. */
size_t bm_gpiochip_history(bm_gpiochip *chip, unsigned int offset, bm_gpio_change *changes,
                           size_t capacity);
/* 1 and the consumer label when the line is requested (by anyone), else 0. */
int bm_gpiochip_line_requested(bm_gpiochip *chip, unsigned int offset, char *consumer,
                               size_t consumer_capacity);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_MOCK_HW_H */
