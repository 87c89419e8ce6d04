/*
 * test-sniff.c - documents are recognised by their bytes, whatever their
 * name or declared type, and a file that only claims to be a PDF is still
 * treated as one (so it is checked and found malformed, not skipped).
 */
#include <string.h>
#include "sniff.h"
#include "tap.h"

#define S(x) (const unsigned char *)(x), sizeof(x) - 1

int main(void)
{
    ok(sniff_kind(S("%PDF-1.7\n%\xe2\xe3\n1 0 obj"), "congvan.bin", "application/octet-stream") == KIND_PDF,
       "a PDF named .bin sent as octet-stream is a PDF");
    ok(sniff_kind(S("junk before header %PDF-1.4\n"), NULL, NULL) == KIND_PDF,
       "a PDF header within the first 1024 bytes counts");
    ok(sniff_kind(S("just some text"), "cv.pdf", NULL) == KIND_PDF,
       "text named .pdf is still checked as a PDF");
    ok(sniff_kind(S("just some text"), "x.txt", "application/pdf") == KIND_PDF,
       "text declared application/pdf is still checked as a PDF");
    ok(sniff_kind(S("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest"), "a.bin", NULL) == KIND_OLE, "OLE by magic");
    ok(sniff_kind(S("PK\x03\x04....[Content_Types].xml"), "a.zip", NULL) == KIND_OFFICE, "OOXML by content");
    ok(sniff_kind(S("PK\x03\x04....photos/"), "a.zip", NULL) == KIND_OTHER, "a plain zip is not a document");
    static const unsigned char cms[] = {0x30, 0x82, 0x05, 0x00, 0x06, 0x09, 0x2A, 0x86, 0x48,
                                        0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02, 0xA0};
    ok(sniff_kind(cms, sizeof cms, "doc.txt.p7s", NULL) == KIND_P7S, "DER SignedData named .p7s");
    ok(sniff_kind(cms, sizeof cms, "doc.p7m", NULL) == KIND_P7M, "DER SignedData otherwise is .p7m");
    unsigned char p7m_pdf[64];
    memcpy(p7m_pdf, cms, sizeof cms);
    memcpy(p7m_pdf + sizeof cms, "\x80\x30\x80%PDF-1.7\n", 13);
    ok(sniff_kind(p7m_pdf, sizeof cms + 13, "congvan.pdf.p7m", NULL) == KIND_P7M,
       "a .p7m holding a PDF is CMS, though %%PDF- is near its start");
    ok(sniff_kind(S("From: a@b.gov.vn\nSubject: x\n\nbody"), "x", NULL) == KIND_MESSAGE, "an e-mail");
    ok(sniff_kind(S("hello"), "notes.txt", "text/plain") == KIND_TEXT, "plain text");
    ok(sniff_kind(S(""), NULL, NULL) == KIND_OTHER, "empty input");
    return tap_done();
}
