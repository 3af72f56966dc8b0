/*
 * bcryptprimitives.dll for Wine 8.0 (Debian 12), which lacks it: Go 1.22
 * and later load ProcessPrng from it at start and stop with "fatal error:
 * bcryptprimitives.dll not found" without it. This shim fills the buffer
 * with RtlGenRandom (advapi32's SystemFunction036), which Wine has. It is
 * for running upnsync.exe under Wine in tests only; Windows has the real
 * DLL. Built by scripts/wine.sh with x86_64-w64-mingw32-gcc; the binary is
 * never committed.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
