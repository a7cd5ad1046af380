<#
.SYNOPSIS
    Stops and removes the mpwatch-shipper Windows service.

.DESCRIPTION
    The stop is clean: the shipper sends what it read and saves its checkpoint first. The settings and
    the checkpoints in %ProgramData%\mpwatch stay (a later install.ps1 resumes where this one stopped)
    unless -RemoveData is given; without checkpoints, a new install ships every log again from the
    start.
.EXAMPLE
    .\uninstall.ps1
.EXAMPLE
    .\uninstall.ps1 -RemoveData
#>
[CmdletBinding()]
param(
    [switch]$RemoveData
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ServiceName = 'mpwatch-shipper'
$DataDir = Join-Path $env:ProgramData 'mpwatch'

$service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($service) {
    if ($service.Status -ne 'Stopped') {
        Stop-Service -Name $ServiceName
        $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
    }
    & sc.exe delete $ServiceName | Out-Null
    if ($LASTEXITCODE -ne 0) {
        throw "sc.exe delete $ServiceName failed (exit code $LASTEXITCODE)"
    }
    Write-Host "Removed the service $ServiceName."
}
else {
    Write-Host "No service $ServiceName is installed."
}

if ($RemoveData) {
    if (Test-Path -LiteralPath $DataDir) {
        Remove-Item -LiteralPath $DataDir -Recurse -Force
        Write-Host "Deleted $DataDir (settings, checkpoints, log)."
    }
}
elseif (Test-Path -LiteralPath $DataDir) {
    Write-Host "Kept $DataDir (settings and checkpoints); -RemoveData deletes it."
}
