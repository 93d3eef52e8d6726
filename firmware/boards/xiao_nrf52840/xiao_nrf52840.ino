// myotwitch for Seeed XIAO nRF52840 (Adafruit nRF52 Arduino core, "Seeed nRF52 Boards").
// Samples up to 2 EMG channels (A0, A1) from a hardware timer and streams protocol frames
// over USB CDC serial and BLE (the myotwitch GATT service, plus Device Information and
// Battery). Board layer only: framing, CRC, ring buffer and commands live in src/core and
// are tested on the host. Verified only on real hardware: see README "What CI verifies".
#include <Arduino.h>
#include <bluefruit.h>

extern "C" {
#include "src/core/mt_device.h"
}

#define N_CHANNELS 2
#define FRONTEND_GAIN 1000.0f      // BioAmp EXG Pill ~1000; MyoWare 2.0 raw ~200 (see hardware.md)
#define ADC_FULL_SCALE_UV 3600000.0f  // SAADC: internal 0.6 V reference, gain 1/6
#define ADC_MID 2048                  // front end idles at mid-supply (1.65 V of 3.3 V)
#define BATTERY_PIN PIN_VBAT

static const uint8_t SERVICE_UUID[16] = {0x69,0x77,0x74,0x6f,0x79,0x6d,0x6e,0x9b,0x1e,0x4c,0x2c,0x8f,0x01,0x43,0x54,0x4d};
static const uint8_t NOTIFY_UUID[16]  = {0x69,0x77,0x74,0x6f,0x79,0x6d,0x6e,0x9b,0x1e,0x4c,0x2c,0x8f,0x02,0x43,0x54,0x4d};
static const uint8_t COMMAND_UUID[16] = {0x69,0x77,0x74,0x6f,0x79,0x6d,0x6e,0x9b,0x1e,0x4c,0x2c,0x8f,0x03,0x43,0x54,0x4d};

BLEService emgService(SERVICE_UUID);
BLECharacteristic frameChr(NOTIFY_UUID);
BLECharacteristic commandChr(COMMAND_UUID);
BLEDis bledis;
BLEBas blebas;

static mt_device_t dev;
static volatile uint16_t rate_hz = 1000;
static uint8_t frame[300];
static uint16_t conn_handle = BLE_CONN_HANDLE_INVALID;

// -- sampling: TIMER2 compare interrupt, SAADC one-shot scan of both channels -----------------------
static void timer_start(uint16_t hz) {
  NRF_TIMER2->TASKS_STOP = 1;
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

static volatile int16_t saadc_result[N_CHANNELS];

static void saadc_init() {
  NRF_SAADC->RESOLUTION = SAADC_RESOLUTION_VAL_12bit;
  for (int c = 0; c < N_CHANNELS; c++) {
    NRF_SAADC->CH[c].PSELP = SAADC_CH_PSELP_PSELP_AnalogInput0 + c;  // A0 = AIN0, A1 = AIN1 on XIAO
    NRF_SAADC->CH[c].PSELN = SAADC_CH_PSELN_PSELN_NC;
    NRF_SAADC->CH[c].CONFIG = (SAADC_CH_CONFIG_GAIN_Gain1_6 << SAADC_CH_CONFIG_GAIN_Pos) |
                              (SAADC_CH_CONFIG_REFSEL_Internal << SAADC_CH_CONFIG_REFSEL_Pos) |
                              (SAADC_CH_CONFIG_TACQ_5us << SAADC_CH_CONFIG_TACQ_Pos);
  }
  NRF_SAADC->RESULT.PTR = (uint32_t)saadc_result;
  NRF_SAADC->RESULT.MAXCNT = N_CHANNELS;
  NRF_SAADC->ENABLE = 1;
}

extern "C" void TIMER2_IRQHandler(void) {
  if (!NRF_TIMER2->EVENTS_COMPARE[0]) return;
  NRF_TIMER2->EVENTS_COMPARE[0] = 0;
  NRF_SAADC->EVENTS_END = 0;
  NRF_SAADC->TASKS_START = 1;
  NRF_SAADC->TASKS_SAMPLE = 1;
  while (!NRF_SAADC->EVENTS_END) {}  // ~15 us for two channels
  int32_t v[N_CHANNELS];
  for (int c = 0; c < N_CHANNELS; c++) {
    v[c] = (int32_t)saadc_result[c] - ADC_MID;
    if (saadc_result[c] <= 0 || saadc_result[c] >= 4095) dev.saturated = 1;
  }
  mt_device_sample(&dev, v);
}

// -- board hooks ----------------------------------------------------------------------------------
static uint8_t board_set_rate(void *, uint16_t hz) {
  if (hz < 250 || hz > 4000) return 0;
  rate_hz = hz;
  timer_start(hz);
  return 1;
}
static uint16_t board_battery_mv(void *) {
  // XIAO: VBAT through a 1M/510k divider, enabled by P0.14 low
  return (uint16_t)(analogRead(BATTERY_PIN) * 3600UL / 1023UL * 1510UL / 510UL);
}
static uint8_t board_battery_pct(void *ctx) {
  uint16_t mv = board_battery_mv(ctx);
  if (mv < 3300) return 0;
  if (mv > 4150) return 100;
  return (uint8_t)((mv - 3300) * 100UL / 850UL);
}
static uint32_t board_millis(void *) { return millis(); }
static const mt_board_t board = {board_set_rate, board_battery_mv, board_battery_pct, nullptr, board_millis, nullptr};

// -- BLE ------------------------------------------------------------------------------------------
static void on_command(uint16_t, BLECharacteristic *, uint8_t *data, uint16_t len) {
  mt_device_receive(&dev, data, len);
}
static void on_connect(uint16_t handle) {
  conn_handle = handle;
  BLEConnection *conn = Bluefruit.Connection(handle);
  conn->requestMtuExchange(247);
  conn->requestConnectionParameter(6);  // 7.5 ms interval: room for 2 ch x 2 kHz
}
static void on_disconnect(uint16_t, uint8_t) { conn_handle = BLE_CONN_HANDLE_INVALID; }

void setup() {
  Serial.begin(115200);  // USB CDC: the baud rate is ignored
  mt_info_t info = {};
  info.protocol_version = MT_PROTOCOL_VERSION;
  info.fw_major = 0; info.fw_minor = 1; info.fw_patch = 0;
  info.device_id = ((uint64_t)NRF_FICR->DEVICEID[1] << 32) | NRF_FICR->DEVICEID[0];
  info.sample_rate_hz = rate_hz;
  info.n_channels = N_CHANNELS;
  info.sample_format = MT_FMT_INT16;
  info.uv_per_count = ADC_FULL_SCALE_UV / 4096.0f / FRONTEND_GAIN;
  strcpy(info.labels[0], "gastrocnemius");
  strcpy(info.labels[1], "soleus");
  // one BLE notification per frame, and at most 20 ms of samples per frame (latency)
  uint8_t per_frame = mt_frame_samples_for_mtu(247, N_CHANNELS, MT_FMT_INT16);
  if (per_frame > rate_hz / 50) per_frame = rate_hz / 50;
  mt_device_init(&dev, &info, &board, per_frame);

  Bluefruit.configPrphBandwidth(BANDWIDTH_MAX);
  Bluefruit.begin();
  Bluefruit.setName("myotwitch");
  Bluefruit.Periph.setConnectCallback(on_connect);
  Bluefruit.Periph.setDisconnectCallback(on_disconnect);
  bledis.setManufacturer("myotwitch");
  bledis.setModel("XIAO nRF52840");
  bledis.setFirmwareRev("0.1.0");
  bledis.begin();
  blebas.begin();
  emgService.begin();
  frameChr.setProperties(CHR_PROPS_NOTIFY);
  frameChr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  frameChr.setMaxLen(244);
  frameChr.begin();
  commandChr.setProperties(CHR_PROPS_WRITE | CHR_PROPS_WRITE_WO_RESP);
  commandChr.setPermission(SECMODE_NO_ACCESS, SECMODE_OPEN);
  commandChr.setMaxLen(64);
  commandChr.setWriteCallback(on_command);
  commandChr.begin();
  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addTxPower();
  Bluefruit.Advertising.addService(emgService);
  Bluefruit.ScanResponse.addName();
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.start(0);

  saadc_init();
  timer_start(rate_hz);
}

void loop() {
  while (Serial.available()) {
    uint8_t b = (uint8_t)Serial.read();
    mt_device_receive(&dev, &b, 1);
  }
  size_t n = mt_device_poll(&dev, frame, sizeof frame);
  if (!n) return;
  if (Serial) Serial.write(frame, n);  // USB host attached
  if (conn_handle != BLE_CONN_HANDLE_INVALID) frameChr.notify(conn_handle, frame, (uint16_t)n);
  static uint32_t last_bas;
  if (millis() - last_bas > 60000) {
    last_bas = millis();
    blebas.write(board_battery_pct(nullptr));
  }
}
