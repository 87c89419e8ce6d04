/*
 * reasons.c - the one table of reason codes: name, verdict, ETSI
 * sub-indication, and the sentences people read (Vietnamese with
 * diacritics, Vietnamese without them for ASCII-only SMTP replies, English).
 * Every message a user sees about a verification result comes from here.
 */
#include <string.h>
#include "reasons.h"

struct reason_row {
    const char *name;
    kyso_verdict verdict;
    const char *etsi;
    const char *vi;
    const char *vi_ascii;
    const char *en;
};

static const struct reason_row reason_table[REASON__COUNT] = {
    [REASON_OK] = {"ok", VERDICT_VALID, "TOTAL_PASSED",
        "Chữ ký số hợp lệ.",
        "Chu ky so hop le.",
        "The digital signature is valid."},
    [REASON_NO_DOCUMENTS] = {"no_documents", VERDICT_NONE, "",
        "Thư không có văn bản đính kèm cần kiểm tra.",
        "Thu khong co van ban dinh kem can kiem tra.",
        "The message has no document attachment to check."},
    [REASON_UNSIGNED] = {"unsigned", VERDICT_UNSIGNED, "NO_SIGNATURE_FOUND",
        "Văn bản chưa được ký số.",
        "Van ban chua duoc ky so.",
        "The document has no digital signature."},
    [REASON_MALFORMED] = {"malformed", VERDICT_INVALID, "FORMAT_FAILURE",
        "Tệp hoặc cấu trúc chữ ký bị lỗi, không đọc được.",
        "Tep hoac cau truc chu ky bi loi, khong doc duoc.",
        "The file or its signature structure is damaged and cannot be read."},
    [REASON_BAD_BYTERANGE] = {"bad_byterange", VERDICT_INVALID, "FORMAT_FAILURE",
        "Chữ ký không bao phủ đúng toàn bộ văn bản (ByteRange sai).",
        "Chu ky khong bao phu dung toan bo van ban (ByteRange sai).",
        "The signature does not cover the document as it must (bad ByteRange)."},
    [REASON_DIGEST_MISMATCH] = {"digest_mismatch", VERDICT_INVALID, "HASH_FAILURE",
        "Nội dung văn bản đã bị thay đổi sau khi ký.",
        "Noi dung van ban da bi thay doi sau khi ky.",
        "The signed content has been changed."},
    [REASON_BAD_SIGNATURE] = {"bad_signature", VERDICT_INVALID, "SIG_CRYPTO_FAILURE",
        "Giá trị chữ ký số không đúng.",
        "Gia tri chu ky so khong dung.",
        "The signature value does not verify."},
    [REASON_MODIFIED_AFTER_SIGNING] = {"modified_after_signing", VERDICT_INVALID,
        "ILLEGAL_MODIFICATION",
        "Văn bản đã bị sửa đổi sau khi ký, vượt quá những thay đổi được phép.",
        "Van ban da bi sua doi sau khi ky, vuot qua nhung thay doi duoc phep.",
        "The document was modified after signing beyond what is allowed."},
    [REASON_CERT_EXPIRED] = {"cert_expired", VERDICT_INVALID, "OUT_OF_BOUNDS_NO_POE",
        "Chứng thư số của người ký đã hết hạn.",
        "Chung thu so cua nguoi ky da het han.",
        "The signer's certificate has expired."},
    [REASON_CERT_NOT_YET_VALID] = {"cert_not_yet_valid", VERDICT_INVALID, "NOT_YET_VALID",
        "Chứng thư số của người ký chưa có hiệu lực.",
        "Chung thu so cua nguoi ky chua co hieu luc.",
        "The signer's certificate is not yet valid."},
    [REASON_CERT_REVOKED] = {"cert_revoked", VERDICT_INVALID, "REVOKED",
        "Chứng thư số của người ký đã bị thu hồi hoặc tạm dừng.",
        "Chung thu so cua nguoi ky da bi thu hoi hoac tam dung.",
        "The signer's certificate has been revoked or suspended."},
    [REASON_UNTRUSTED_CHAIN] = {"untrusted_chain", VERDICT_INVALID,
        "NO_CERTIFICATE_CHAIN_FOUND",
        "Chứng thư số không do tổ chức cung cấp dịch vụ chứng thực được tin cậy cấp.",
        "Chung thu so khong do to chuc cung cap dich vu chung thuc duoc tin cay cap.",
        "The certificate was not issued by a trusted certification authority."},
    [REASON_BAD_KEY_USAGE] = {"bad_key_usage", VERDICT_INVALID,
        "CHAIN_CONSTRAINTS_FAILURE",
        "Chứng thư số không được phép dùng để ký văn bản.",
        "Chung thu so khong duoc phep dung de ky van ban.",
        "The certificate may not be used to sign documents."},
    [REASON_WEAK_ALGORITHM] = {"weak_algorithm", VERDICT_INVALID,
        "CRYPTO_CONSTRAINTS_FAILURE",
        "Chữ ký dùng thuật toán hoặc độ dài khóa không còn an toàn.",
        "Chu ky dung thuat toan hoac do dai khoa khong con an toan.",
        "The signature uses an algorithm or key size that is no longer safe."},
    [REASON_REVOCATION_UNKNOWN] = {"revocation_unknown", VERDICT_INDETERMINATE, "TRY_LATER",
        "Chưa kiểm tra được tình trạng thu hồi của chứng thư số.",
        "Chua kiem tra duoc tinh trang thu hoi cua chung thu so.",
        "The revocation status of the certificate could not be checked."},
    [REASON_TIMESTAMP_INVALID] = {"timestamp_invalid", VERDICT_INVALID, "",
        "Dấu thời gian kèm chữ ký không hợp lệ.",
        "Dau thoi gian kem chu ky khong hop le.",
        "The time-stamp of the signature is not valid."},
    [REASON_SIGNER_MISMATCH] = {"signer_mismatch", VERDICT_INVALID, "",
        "Người ký không khớp với địa chỉ người gửi.",
        "Nguoi ky khong khop voi dia chi nguoi gui.",
        "The signer does not match the sender address."},
    [REASON_MISSING_ORG_SIGNATURE] = {"missing_org_signature", VERDICT_INVALID, "",
        "Văn bản thiếu chữ ký số của cơ quan, tổ chức.",
        "Van ban thieu chu ky so cua co quan, to chuc.",
        "The document lacks the organisation's digital signature."},
    [REASON_MISSING_PERSONAL_SIGNATURE] = {"missing_personal_signature", VERDICT_INVALID, "",
        "Văn bản thiếu chữ ký số của người có thẩm quyền.",
        "Van ban thieu chu ky so cua nguoi co tham quyen.",
        "The document lacks the personal signature of the competent person."},
    [REASON_LIMIT_EXCEEDED] = {"limit_exceeded", VERDICT_INVALID, "FORMAT_FAILURE",
        "Thư hoặc tệp vượt quá giới hạn kiểm tra (kích thước, số phần, độ sâu).",
        "Thu hoac tep vuot qua gioi han kiem tra (kich thuoc, so phan, do sau).",
        "The message or file exceeds a checking limit (size, parts or nesting)."},
    [REASON_UNSUPPORTED_TYPE] = {"unsupported_type", VERDICT_INDETERMINATE, "",
        "Chưa hỗ trợ kiểm tra chữ ký số cho loại tệp này.",
        "Chua ho tro kiem tra chu ky so cho loai tep nay.",
        "Signatures on this type of file cannot be checked yet."},
    [REASON_INTERNAL_ERROR] = {"internal_error", VERDICT_INDETERMINATE, "",
        "Lỗi nội bộ khi kiểm tra; thư sẽ được kiểm tra lại sau.",
        "Loi noi bo khi kiem tra; thu se duoc kiem tra lai sau.",
        "Internal error while checking; the message will be checked again later."},
};

/* reason_row - the row of R, or the internal_error row when R is out of range. */
static const struct reason_row *reason_row(kyso_reason r)
{
    if ((unsigned)r >= REASON__COUNT)
        r = REASON_INTERNAL_ERROR;
    return &reason_table[r];
}

const char *reason_name(kyso_reason r) { return reason_row(r)->name; }
kyso_verdict reason_verdict(kyso_reason r) { return reason_row(r)->verdict; }
const char *reason_etsi(kyso_reason r) { return reason_row(r)->etsi; }
const char *reason_text_vi(kyso_reason r) { return reason_row(r)->vi; }
const char *reason_text_ascii_vi(kyso_reason r) { return reason_row(r)->vi_ascii; }
const char *reason_text_en(kyso_reason r) { return reason_row(r)->en; }

int reason_from_name(const char *name)
{
    for (int i = 0; i < REASON__COUNT; i++)
        if (strcmp(reason_table[i].name, name) == 0)
            return i;
    return -1;
}

const char *verdict_name(kyso_verdict v)
{
    switch (v) {
    case VERDICT_VALID: return "valid";
    case VERDICT_NONE: return "none";
    case VERDICT_UNSIGNED: return "unsigned";
    case VERDICT_INDETERMINATE: return "indeterminate";
    case VERDICT_INVALID: return "invalid";
    }
    return "invalid";
}

/* verdict_rank - how bad a verdict is for a document: higher is worse. */
static int verdict_rank(kyso_verdict v)
{
    switch (v) {
    case VERDICT_NONE: return 0;
    case VERDICT_VALID: return 1;
    case VERDICT_UNSIGNED: return 2;
    case VERDICT_INDETERMINATE: return 3;
    case VERDICT_INVALID: return 4;
    }
    return 4;
}

kyso_reason reason_worse(kyso_reason a, kyso_reason b)
{
    return verdict_rank(reason_verdict(b)) > verdict_rank(reason_verdict(a)) ? b : a;
}
