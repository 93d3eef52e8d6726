// myotwitch for Seeed XIAO nRF52840 (Adafruit nRF52 Arduino core, "Seeed nRF52 Boards").
// Samples up to 2 EMG channels (A0, A1) from a hardware timer and streams protocol frames
// over USB CDC serial and BLE (the myotwitch GATT service, advertised, plus the Device Information
// and Battery services in the GATT table). Board layer only: framing, CRC, ring buffer, commands, the ADC scan schedule,
// the battery conversion and frame sizing for the BLE MTU live in src/core and are tested on
// the host. Verified only on real hardware: see README "What CI verifies".
//
// The SAADC has exactly one owner: the TIMER2 interrupt. It converts the EMG channels on every
// tick and the battery (P0.31 = AIN7) as one more channel of the same scan once a second.
// Nothing else may touch the SAADC -- in particular never call analogRead(): the core's
// analogRead() reconfigures the SAADC and disables it, which would stall the next scan.
#include <Arduino.h>
#include <bluefruit.h>

extern "C" {
#include "src/core/mt_battery.h"
#include "src/core/mt_device.h"
#include "src/core/mt_notify.h"
#include "src/core/mt_rxq.h"
#include "src/core/mt_scan.h"
#include "src/core/mt_usbtx.h"
}

#define N_CHANNELS 2
#define FRONTEND_GAIN 1000.0f         // BioAmp EXG Pill ~1000; MyoWare 2.0 raw ~200 (see hardware.md)
// EMG channels: VDD/4 reference, gain 1/4, so full scale = VDD = 3.3 V (nRF52840 PS, SAADC
// "Reference"). The front end runs from the same 3V3 and idles at VDD/2: ratiometric, mid-scale
// (2048) at rest whatever the regulator's exact voltage, and its whole 0..VDD swing in range.
#define ADC_FULL_SCALE_UV 3300000.0f  // VDD; the uV scale is as exact as the 3V3 regulator
#define ADC_MID 2048                  // VDD/2, where the front end idles
#define ADC_MAX 4095
#define START_RATE_HZ 1000
#define VBAT_SLOT N_CHANNELS                            // SAADC channel used for the battery
#define VBAT_AIN SAADC_CH_PSELP_PSELP_AnalogInput7      // PIN_VBAT = P0.31 = AIN7 on the XIAO
#define SAADC_WAIT_SPINS 4000u                          // >> a 3-channel scan (~60 us); bounds a fault

// XIAO nRF52840: VBAT -> 1 Mohm -> P0.31 -> 510 kohm -> P0.14 (VBAT_ENABLE). P0.14 LOW closes the
// divider; the SAADC reads it against the internal 0.6 V reference with gain 1/6 (3.6 V full scale):
// an absolute measurement, unlike the ratiometric EMG channels.
static const mt_battery_divider_t VBAT_DIVIDER = {12u, 3600u, 1000000UL, 510000UL};

static const uint8_t SERVICE_UUID[16] = {0x69,0x77,0x74,0x6f,0x79,0x6d,0x6e,0x9b,0x1e,0x4c,0x2c,0x8f,0x01,0x43,0x54,0x4d};
static const uint8_t NOTIFY_UUID[16]  = {0x69,0x77,0x74,0x6f,0x79,0x6d,0x6e,0x9b,0x1e,0x4c,0x2c,0x8f,0x02,0x43,0x54,0x4d};
static const uint8_t COMMAND_UUID[16] = {0x69,0x77,0x74,0x6f,0x79,0x6d,0x6e,0x9b,0x1e,0x4c,0x2c,0x8f,0x03,0x43,0x54,0x4d};

BLEService emgService(SERVICE_UUID);
BLECharacteristic frameChr(NOTIFY_UUID);
BLECharacteristic commandChr(COMMAND_UUID);
BLEDis bledis;
BLEBas blebas;

static mt_device_t dev;
static mt_scan_t scan;
static mt_notify_link_t ble_link;
// Command bytes written over BLE. Bluefruit runs the write callback on another FreeRTOS task,
// which preempts loop(): handing the bytes to mt_device_receive() there raced loop()'s
// mt_device_poll() over the device's reply queue (a reply lost or sent twice). The callback only
// queues them; loop() feeds them to the device. The queue has one producer: the callback is
// registered to run on the BLE task itself (useAdaCallback false). By default it runs on the
// "Callback" task, but inline on the BLE task whenever the core cannot allocate the callback's
// queue item (BLECharacteristic.cpp), so two tasks could have written the queue at once.
static mt_rxq_t ble_rx;
// Frames to a program that has the USB port open, a FIFO's room at a time: the core's
// Serial.write() waits while the 256-byte FIFO is full for as long as the port stays open, so a
// program that opened the port and stopped reading stopped loop(), and BLE with it.
static mt_usbtx_t usb_tx;
static volatile uint32_t saadc_faults;  // scans that did not finish in time (should stay 0)
static uint8_t frame[300];
static_assert(sizeof frame <= MT_USBTX_MAX, "a frame must fit the USB sender");
static volatile uint16_t conn_handle = BLE_CONN_HANDLE_INVALID;
static bool ble_resync;  // a notification failed mid-frame: send a delimiter before the next frame

// -- sampling: TIMER2 compare interrupt, one SAADC scan per tick ------------------------------------
static void timer_start(uint16_t hz) {
  NRF_TIMER2->TASKS_STOP = 1;
  mt_scan_set_battery_every(&scan, hz);  // the battery once a second at any rate
  NRF_TIMER2->MODE = TIMER_MODE_MODE_Timer;
  NRF_TIMER2->BITMODE = TIMER_BITMODE_BITMODE_32Bit;
  NRF_TIMER2->PRESCALER = 4;  // 1 MHz
  NRF_TIMER2->CC[0] = 1000000UL / hz;
  NRF_TIMER2->SHORTS = TIMER_SHORTS_COMPARE0_CLEAR_Msk;
  NRF_TIMER2->INTENSET = TIMER_INTENSET_COMPARE0_Msk;
  NVIC_SetPriority(TIMER2_IRQn, 2);
  NVIC_EnableIRQ(TIMER2_IRQn);
  NRF_TIMER2->TASKS_CLEAR = 1;
  NRF_TIMER2->TASKS_START = 1;
}

static volatile int16_t saadc_result[N_CHANNELS + 1];

static uint32_t saadc_config(uint32_t gain, uint32_t refsel, uint32_t tacq) {
  return (gain << SAADC_CH_CONFIG_GAIN_Pos) | (refsel << SAADC_CH_CONFIG_REFSEL_Pos) |
         (tacq << SAADC_CH_CONFIG_TACQ_Pos);
}

static void saadc_init() {
  NRF_SAADC->ENABLE = 0;
  for (uint32_t c = 0; c < 8; c++) {
    NRF_SAADC->CH[c].PSELP = SAADC_CH_PSELP_PSELP_NC;
    NRF_SAADC->CH[c].PSELN = SAADC_CH_PSELN_PSELN_NC;
  }
  NRF_SAADC->RESOLUTION = SAADC_RESOLUTION_VAL_12bit;
  NRF_SAADC->OVERSAMPLE = SAADC_OVERSAMPLE_OVERSAMPLE_Bypass;
  for (uint32_t c = 0; c < N_CHANNELS; c++) {
    // A0 = AIN0, A1 = AIN1 on XIAO; VDD/4 reference, gain 1/4: 0..VDD
    NRF_SAADC->CH[c].CONFIG = saadc_config(SAADC_CH_CONFIG_GAIN_Gain1_4, SAADC_CH_CONFIG_REFSEL_VDD1_4,
                                           SAADC_CH_CONFIG_TACQ_5us);
    NRF_SAADC->CH[c].PSELP = SAADC_CH_PSELP_PSELP_AnalogInput0 + c;
  }
  // the divider's source impedance is ~340 kohm: 40 us acquisition (nRF52840 PS, SAADC TACQ table);
  // internal 0.6 V reference, gain 1/6 (VBAT_DIVIDER's 3600 mV full scale)
  NRF_SAADC->CH[VBAT_SLOT].CONFIG = saadc_config(SAADC_CH_CONFIG_GAIN_Gain1_6, SAADC_CH_CONFIG_REFSEL_Internal,
                                                 SAADC_CH_CONFIG_TACQ_40us);
  NRF_SAADC->RESULT.PTR = (uint32_t)saadc_result;
  NRF_SAADC->RESULT.MAXCNT = N_CHANNELS;
  NRF_SAADC->ENABLE = 1;
}

static bool saadc_wait(volatile uint32_t *event) {
  for (uint32_t i = 0; i < SAADC_WAIT_SPINS; i++) {
    if (*event) return true;
  }
  return false;
}

extern "C" void TIMER2_IRQHandler(void) {
  if (!NRF_TIMER2->EVENTS_COMPARE[0]) return;
  NRF_TIMER2->EVENTS_COMPARE[0] = 0;
  const uint8_t n = mt_scan_begin(&scan);  // N_CHANNELS, or N_CHANNELS + 1 with the battery
  NRF_SAADC->CH[VBAT_SLOT].PSELP = (n > N_CHANNELS) ? VBAT_AIN : SAADC_CH_PSELP_PSELP_NC;
  NRF_SAADC->RESULT.PTR = (uint32_t)saadc_result;
  NRF_SAADC->RESULT.MAXCNT = n;
  NRF_SAADC->EVENTS_STARTED = 0;
  NRF_SAADC->EVENTS_END = 0;
  NRF_SAADC->TASKS_START = 1;
  bool ok = saadc_wait(&NRF_SAADC->EVENTS_STARTED);
  if (ok) {
    NRF_SAADC->TASKS_SAMPLE = 1;
    ok = saadc_wait(&NRF_SAADC->EVENTS_END);
  }
  int16_t r[N_CHANNELS + 1];
  for (uint8_t c = 0; c < n; c++) r[c] = ok ? saadc_result[c] : (int16_t)ADC_MID;
  if (!ok) saadc_faults = saadc_faults + 1;
  mt_scan_end(&scan, &dev, r, ok ? n : (uint8_t)N_CHANNELS);  // the sample counts either way
}

// -- board hooks (main loop; none of them touches the SAADC) ---------------------------------------
// only rates the 1 MHz timer divides exactly: another would run off the rate INFO states
// (1500 Hz: 666 us = 1501.5 Hz, 0.1 %: 29 s over an 8 h night)
static_assert(1000000UL % START_RATE_HZ == 0, "START_RATE_HZ must divide 1 MHz (250, 500, 1000, 2000, 4000, ...)");
static uint8_t board_set_rate(void *, uint16_t hz) {
  if (hz < 250 || hz > 4000 || 1000000UL % hz != 0) return 0;
  timer_start(hz);
  return 1;
}
static uint16_t board_battery_mv(void *) { return mt_battery_mv(&VBAT_DIVIDER, mt_scan_battery_raw(&scan)); }
static uint8_t board_battery_pct(void *ctx) { return mt_battery_pct(board_battery_mv(ctx)); }
static uint32_t board_millis(void *) { return millis(); }
static const mt_board_t board = {board_set_rate, board_battery_mv, board_battery_pct, nullptr, board_millis, nullptr};

// -- BLE ------------------------------------------------------------------------------------------
static void on_command(uint16_t, BLECharacteristic *, uint8_t *data, uint16_t len) {
  for (uint16_t i = 0; i < len; i++) (void)mt_rxq_put(&ble_rx, data[i]);  // (loop() reads them)
}
static void on_connect(uint16_t handle) {
  conn_handle = handle;
  BLEConnection *conn = Bluefruit.Connection(handle);
  conn->requestMtuExchange(MT_ATT_MTU_MAX);  // a request: the central may agree less (or nothing)
  conn->requestConnectionParameter(6);       // 7.5 ms interval if the central allows it
}
static void on_disconnect(uint16_t, uint8_t) { conn_handle = BLE_CONN_HANDLE_INVALID; }

// The ATT MTU agreed on the connection right now. Bluefruit starts every connection at 23 and
// updates BLEConnection::getMtu() when an exchange completes (either side starting it), so
// reading it before each frame follows every change; no connection counts as the smallest MTU.
// After our own request, core 1.1.8 stores the central's server_rx_mtu without taking the
// minimum with ours (a phone answering 517 reads as 517): mt_notify_follow() clamps to 247.
static uint16_t link_mtu() {
  const uint16_t handle = conn_handle;
  if (handle == BLE_CONN_HANDLE_INVALID) return MT_ATT_MTU_MIN;
  BLEConnection *conn = Bluefruit.Connection(handle);
  return conn ? conn->getMtu() : (uint16_t)MT_ATT_MTU_MIN;
}

// One frame as notifications of at most `payload` bytes (MTU - 3). The host reassembles at the
// 0x00 delimiters; if a notification fails, the rest of the frame is dropped and the next frame
// is preceded by a lone delimiter so the host discards only the broken one.
static void notify_frame(const uint8_t *data, size_t len, uint16_t payload) {
  const uint16_t handle = conn_handle;
  if (handle == BLE_CONN_HANDLE_INVALID || !frameChr.notifyEnabled(handle)) return;
  if (ble_resync) {
    static const uint8_t delimiter = 0;
    if (!frameChr.notify(handle, &delimiter, 1)) return;
    ble_resync = false;
  }
  for (size_t off = 0; off < len; off += payload) {
    const size_t left = len - off;
    const uint16_t chunk = (uint16_t)(left < payload ? left : payload);
    if (!frameChr.notify(handle, data + off, chunk)) {
      ble_resync = true;
      return;
    }
  }
}

void setup() {
  // The variant drives VBAT_ENABLE high at start-up; low connects the divider. Seeed advises
  // against high while a battery is attached (P0.31 would sit near its 3.6 V limit), and the
  // divider draws under 3 uA, so it stays low for good.
  pinMode(VBAT_ENABLE, OUTPUT);
  digitalWrite(VBAT_ENABLE, LOW);

  Serial.begin(115200);  // USB CDC: the baud rate is ignored
  mt_info_t info = {};
  info.protocol_version = MT_PROTOCOL_VERSION;
  info.fw_major = 0; info.fw_minor = 2; info.fw_patch = 0;
  info.device_id = ((uint64_t)NRF_FICR->DEVICEID[1] << 32) | NRF_FICR->DEVICEID[0];
  info.sample_rate_hz = START_RATE_HZ;
  info.n_channels = N_CHANNELS;
  info.sample_format = MT_FMT_INT16;
  info.uv_per_count = ADC_FULL_SCALE_UV / 4096.0f / FRONTEND_GAIN;
  strcpy(info.labels[0], "gastrocnemius");
  strcpy(info.labels[1], "soleus");
  mt_device_init(&dev, &info, &board, 1);
  mt_usbtx_init(&usb_tx);
  mt_rxq_init(&ble_rx);  // (before Bluefruit.begin(): no write callback can come earlier)
  mt_notify_link_init(&ble_link);
  (void)mt_notify_follow(&ble_link, &dev, MT_ATT_MTU_MIN);  // frames for the smallest MTU until told more

  Bluefruit.configPrphBandwidth(BANDWIDTH_MAX);
  Bluefruit.begin();
  Bluefruit.setName("myotwitch");
  Bluefruit.Periph.setConnectCallback(on_connect);
  Bluefruit.Periph.setDisconnectCallback(on_disconnect);
  bledis.setManufacturer("myotwitch");
  bledis.setModel("XIAO nRF52840");
  bledis.setFirmwareRev("0.2.0");
  bledis.begin();
  blebas.begin();
  emgService.begin();
  frameChr.setProperties(CHR_PROPS_NOTIFY);
  frameChr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  frameChr.setMaxLen(MT_ATT_MTU_MAX - 3);
  frameChr.begin();
  commandChr.setProperties(CHR_PROPS_WRITE | CHR_PROPS_WRITE_WO_RESP);
  commandChr.setPermission(SECMODE_NO_ACCESS, SECMODE_OPEN);
  commandChr.setMaxLen(64);
  commandChr.setWriteCallback(on_command, false);  // (on the BLE task: the queue's one producer)
  commandChr.begin();
  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addTxPower();
  Bluefruit.Advertising.addService(emgService);
  Bluefruit.ScanResponse.addName();
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.start(0);

  mt_scan_init(&scan, N_CHANNELS, START_RATE_HZ, ADC_MID, ADC_MAX);
  saadc_init();
  timer_start(START_RATE_HZ);
}

// The Battery service's level: as soon as there is a reading, then once a minute, streaming or not.
static void update_bas() {
  static uint32_t last_bas;
  static bool bas_set;
  if (bas_set && millis() - last_bas < 60000) return;
  const uint8_t pct = board_battery_pct(nullptr);
  if (pct > 100) return;  // no reading yet
  blebas.write(pct);
  bas_set = true;
  last_bas = millis();
}

// What the USB FIFO has room for of the frame going out; never waits. A port closed mid-frame
// forgets the rest, so the next program to open it reads whole frames.
static void usb_pump() {
  if (!Serial) {
    mt_usbtx_reset(&usb_tx);
    return;
  }
  const int room = Serial.availableForWrite();
  size_t k = 0;
  const uint8_t *p = mt_usbtx_next(&usb_tx, room > 0 ? (size_t)room : 0u, &k);
  if (k) mt_usbtx_sent(&usb_tx, Serial.write(p, k));
}

void loop() {
  uint8_t b;
  while (Serial.available()) {
    b = (uint8_t)Serial.read();
    mt_device_receive(&dev, &b, 1);
  }
  while (mt_rxq_get(&ble_rx, &b)) mt_device_receive(&dev, &b, 1);
  update_bas();
  const uint16_t payload = mt_notify_follow(&ble_link, &dev, link_mtu());
  usb_pump();
  size_t n = mt_device_poll(&dev, frame, sizeof frame);
  if (!n) return;
  if (Serial) (void)mt_usbtx_offer(&usb_tx, frame, n);  // USB host attached (dropped while one goes out)
  usb_pump();
  notify_frame(frame, n, payload);
}
