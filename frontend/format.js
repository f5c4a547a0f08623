// Formatting helpers: money in the event's currency, dates, countdowns.

const moneyFormats = new Map();

function moneyFormat(currency) {
  let fmt = moneyFormats.get(currency);
  if (!fmt) {
    try {
      fmt = new Intl.NumberFormat(undefined, { style: "currency", currency });
    } catch {
      // A code Intl rejects: a plain two-decimal number, prefixed with the code by
      // formatMoney, rather than failing the page.
      const plain = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      fmt = {
        format: (value) => `${currency} ${plain.format(value)}`,
        resolvedOptions: () => plain.resolvedOptions(),
      };
    }
    moneyFormats.set(currency, fmt);
  }
  return fmt;
}

/** Digits after the point for a currency (2 for GBP, 0 for JPY): prices are integers in minor units. */
export function minorDigits(currency) {
  return moneyFormat(currency).resolvedOptions().maximumFractionDigits;
}

/** `price` is an integer in minor units (pence for GBP). */
export function formatMoney(price, currency) {
  if (price === null || price === undefined || Number.isNaN(price)) return "";
  return moneyFormat(currency).format(price / 10 ** minorDigits(currency));
}

/** Parse a price typed in major units ("12.50") into minor units (1250). */
export function parseMoney(text, currency) {
  const value = Number.parseFloat(String(text).replace(/[^0-9.]/g, ""));
  if (!Number.isFinite(value) || value < 0) return null;
  return Math.round(value * 10 ** minorDigits(currency));
}

// With its zone ("1 May 2030, 20:30 BST"): the reader's own, named, since a buyer may be
// elsewhere than the venue. (dateStyle cannot be combined with timeZoneName.)
const dateFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" });
const minuteOnly = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

export function formatDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : dateFormat.format(d);
}

/** The time of day, to the second ("7:04:09 PM"), or to the minute; "" for none. */
export function formatTime(iso, { seconds = true } = {}) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : (seconds ? timeOnly : minuteOnly).format(d);
}

export function formatDay(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : dateOnly.format(d);
}

/** "9:05" for 545 000 ms; "1:02:03" past an hour; never negative. */
export function formatCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Spoken form for screen readers: "4 minutes 10 seconds". */
export function speakDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  const parts = [];
  if (m) parts.push(`${m} minute${m === 1 ? "" : "s"}`);
  if (s || !m) parts.push(`${s} second${s === 1 ? "" : "s"}`);
  return parts.join(" ");
}
