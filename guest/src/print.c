/* PL011 console for the EL1 firmware: a printf subset (%s %c %d %u %x with l, 0 and width). */
#include <stdarg.h>
#include <stdint.h>

#include "demo.h"

#define PL011_DR (UART_BASE + 0x00)
#define PL011_FR (UART_BASE + 0x18)
#define PL011_FR_TXFF (1u << 5)

static void uart_putc(char c)
{
	while (*(volatile uint32_t *)PL011_FR & PL011_FR_TXFF)
		;
	*(volatile uint32_t *)PL011_DR = (uint32_t)(unsigned char)c;
}

static void emit(char c)
{
	if (c == '\n')
		uart_putc('\r');
	uart_putc(c);
}

static void emit_num(uint64_t v, unsigned base, int width, char pad, int negative)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (negative)
		buf[n++] = '-';
	for (int i = n; i < width; i++)
		emit(pad);
	while (n)
		emit(buf[--n]);
}

void print(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			emit(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, is_long = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			is_long = 1;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (*s)
				emit(*s++);
			break;
		}
		case 'c':
			emit((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);
			emit_num(v < 0 ? (uint64_t)-v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			emit_num(v, *fmt == 'x' ? 16 : 10, width, pad, 0);
			break;
		}
		case '%':
			emit('%');
			break;
		default:
			emit('?');
			break;
		}
	}
	va_end(ap);
}

const char *mt_error_str(int err)
{
	switch (err) {
	case MT_OK:
		return "Ok";
	case MT_FULL:
		return "Full";
	case MT_FAILED_TO_MAP:
		return "FailedToMap (Failed to map the new region)";
	case MT_FAILED_TO_UNMAP:
		return "FailedToUnmap (Failed to unmap the new region)";
	case MT_HYPERVISOR:
		return "Hypervisor (the hypervisor refused the call)";
	case MT_INVALID_PTE:
		return "InvalidPte (Page table entry is not valid)";
	default:
		return "unknown";
	}
}
