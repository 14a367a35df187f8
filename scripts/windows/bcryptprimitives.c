/* Wine 8 has no bcryptprimitives.dll, whose ProcessPrng recent Rust std imports: this one forwards it to advapi32's SystemFunction036 (RtlGenRandom). Built by scripts/windows-check.sh, next to the test binaries. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    return SystemFunction036(data, (ULONG)length);
}
