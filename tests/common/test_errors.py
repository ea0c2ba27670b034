import sys

import pytest

from bundle_common.errors import (
    BundleInputError,
    check_exclusive,
    check_settings,
    input_error_in,
    report_input_errors_briefly,
)


def raised(error: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise error from cause
    except BaseException as caught:
        return caught


def test_input_error_is_found_through_monais_wrapping():
    ours = BundleInputError("a.nii.gz: bad label")
    wrapped = raised(RuntimeError("Failed to instantiate component"), ours)
    assert input_error_in(wrapped) is wrapped.__cause__
    assert input_error_in(raised(RuntimeError("a bug"))) is None


def test_brief_hook_prints_one_line_and_defers_other_errors(monkeypatch, capsys):
    deferred = []
    monkeypatch.setattr(sys, "excepthook", lambda *args: deferred.append(args[1]))
    report_input_errors_briefly()
    report_input_errors_briefly()  # installing twice does not stack
    wrapped = raised(RuntimeError("Failed to instantiate"), BundleInputError("x.tif: 1 colour channel, expected 3."))
    sys.excepthook(type(wrapped), wrapped, wrapped.__traceback__)
    missing = raised(FileNotFoundError(2, "No such file or directory", "/data/none.gz"))
    sys.excepthook(type(missing), missing, missing.__traceback__)
    assert (
        capsys.readouterr().err
        == "error: x.tif: 1 colour channel, expected 3.\nerror: /data/none.gz: No such file or directory.\n"
    )
    bug = raised(KeyError("bug"))
    sys.excepthook(type(bug), bug, bug.__traceback__)
    assert deferred == [bug]


def test_check_settings_names_the_setting_and_refuses_bool_for_numbers():
    check_settings(epochs=(3, int), learning_rate=(1, (int, float)), tta=(True, bool))
    with pytest.raises(BundleInputError, match=r"^--epochs: expected int, got 'ten' \(str\)\.$"):
        check_settings(epochs=("ten", int))
    with pytest.raises(BundleInputError, match="--batch_size: expected int, got True"):
        check_settings(batch_size=(True, int))


def test_check_exclusive_refuses_two_switches_on():
    check_exclusive(resume=False, finetune=True)
    check_exclusive(resume=False, finetune=False)
    with pytest.raises(BundleInputError, match=r"^--resume and --finetune exclude each other"):
        check_exclusive(resume=True, finetune=True)
